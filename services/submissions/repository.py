"""One small class per collection of the submissions database. Writes go
through the ledger (relay.Outbox); these classes read, name the collections
and the `_id`s the ledger writes to, and write only markers (the départements
of a campaign) and what a start-up migration adds."""

import re

from pymongo import ASCENDING, DESCENDING, UpdateOne

from services.common.ledger import ensure_ledger_indexes
from services.common.markers import CampaignMarkers
from services.common.migrations import migration
from services.common.mongo import update_in_bulks

CAMPAIGNS = "campaigns"
COLLECTIVITES = "collectivites"
APPLICATIONS = "applications"
CAMPAIGN_DEPARTMENTS = "campaign_departments"
# True while a sign-up waits for its address's confirmation (then False:
# confirmed, or expired); the expiry timer reads by it.
AWAITING_CONFIRMATION = "awaiting_confirmation"


def listed_fields(collectivite_ref):
    """What the organisers' list filters an application by, as top-level fields
    (equality on them is what FerretDB hands to PostgreSQL's indexes)."""
    return {
        "department": collectivite_ref["department"].upper(),
        "region": collectivite_ref["region"],
        "category": collectivite_ref["category"],
    }


def ensure_indexes(db):
    ensure_ledger_indexes(db)
    # Only used on MongoDB/FerretDB-PostgreSQL; FerretDB-SQLite scans anyway.
    db[APPLICATIONS].create_index([("campaign_year", ASCENDING), ("state", ASCENDING)])
    db[APPLICATIONS].create_index([("campaign_year", ASCENDING), ("department", ASCENDING)])
    db[CAMPAIGN_DEPARTMENTS].create_index([("campaign_year", ASCENDING)])
    db[COLLECTIVITES].create_index([("email", ASCENDING)])
    db[COLLECTIVITES].create_index([(AWAITING_CONFIRMATION, ASCENDING)])
    list_older_applications(db)
    mark_awaiting_confirmation(db)


@migration("organisers-list-by-department")
def list_older_applications(db):
    """Applications stored before the organisers' list read them by département
    get its fields."""
    departments = CampaignDepartments(db)
    unlisted = {"department": {"$exists": False}}
    older = list(db[APPLICATIONS].find(unlisted, {"campaign_year": 1, "collectivite": 1}))
    for app in older:
        departments.add(app["campaign_year"], listed_fields(app["collectivite"])["department"])
    update_in_bulks(
        db[APPLICATIONS],
        [UpdateOne({"_id": app["_id"]}, {"$set": listed_fields(app["collectivite"])}) for app in older],
    )


@migration("awaiting-confirmation")
def mark_awaiting_confirmation(db):
    """Sign-ups stored before AWAITING_CONFIRMATION: the field, from their
    dates (this once, a scan)."""
    unset = {AWAITING_CONFIRMATION: {"$exists": False}}
    older = db[COLLECTIVITES].find(unset, {"confirm_by": 1, "confirmed_at": 1, "expired_at": 1})
    update_in_bulks(
        db[COLLECTIVITES],
        [
            UpdateOne(
                {"_id": doc["_id"]},
                {
                    "$set": {
                        AWAITING_CONFIRMATION: bool(doc.get("confirm_by"))
                        and not doc.get("confirmed_at")
                        and not doc.get("expired_at")
                    }
                },
            )
            for doc in older
        ],
    )


class CampaignDepartments(CampaignMarkers):
    """The départements each campaign has applications from: the organisers'
    list reads them in order (inserted before the application, so none is missed)."""

    def __init__(self, db):
        super().__init__(db, CAMPAIGN_DEPARTMENTS, "department")


class Campaigns:
    def __init__(self, db):
        self.collection = db[CAMPAIGNS]

    @staticmethod
    def key(year):
        return str(year)

    def get(self, year):
        return self.collection.find_one({"_id": self.key(year)})

    def all(self):
        # A few dozen documents at most: sorted here, not by the server.
        return sorted(self.collection.find({}), key=lambda doc: doc["year"], reverse=True)

    def latest(self):
        campaigns = self.all()
        return campaigns[0] if campaigns else None


class Collectivites:
    def __init__(self, db):
        self.collection = db[COLLECTIVITES]

    def get(self, collectivite_id):
        return self.collection.find_one({"_id": collectivite_id})

    def lapsed(self, now, limit=100):
        """Sign-ups still waiting for their address's confirmation, past their
        delay: an equality on AWAITING_CONFIRMATION (indexed), not a scan of
        every collectivité (35,000 at national scale, every EXPIRY_TIMER_SECONDS)."""
        query = {AWAITING_CONFIRMATION: True, "confirm_by": {"$lte": now}}
        return list(self.collection.find(query).limit(limit))

    def with_email(self, email, limit=20):
        """Collectivités registered with this address, any case (one person may
        apply for several)."""
        pattern = {"$regex": f"^{re.escape(email.strip())}$", "$options": "i"}
        return list(self.collection.find({"email": pattern}, {"name": 1}).limit(limit))


class Applications:
    def __init__(self, db):
        self.collection = db[APPLICATIONS]

    @staticmethod
    def key(year, collectivite_id):
        # One application per collectivité and campaign: the ledger's insert of this _id decides.
        return f"{year}:{collectivite_id}"

    def get(self, application_id):
        return self.collection.find_one({"_id": application_id})

    def of_campaign(self, year, state=None, projection=None):
        query = {"campaign_year": year}
        if state:
            query["state"] = state
        return list(self.collection.find(query, projection).sort("_id", DESCENDING))

    def in_department(self, year, department, equal):
        """One département's applications, filtered by equality on top-level fields."""
        return list(self.collection.find({"campaign_year": year, "department": department} | equal))

    def page_of_campaign(self, year, state, after, limit):
        """By _id ("<year>:<collectivite>"), those after `after`: a range read, not a skip."""
        query = {"campaign_year": year, "_id": {"$gt": after or ""}}
        if state:
            query["state"] = state
        return list(self.collection.find(query).sort("_id", ASCENDING).limit(limit))

    def count(self, year, state):
        return self.collection.count_documents({"campaign_year": year, "state": state})


BAROMETRES = "barometres"
ATLAAS = "atlaas"
ATLAAS_POSTINGS = "atlaas_postings"
ATLAAS_BATCH = 1000
POSTING_CHUNK = 500


class Barometres:
    """One baromètre document per released campaign (`_id` = year), computed
    at the release: derived data, rewritten whole by a replayed computation."""

    def __init__(self, db):
        self.collection = db[BAROMETRES]

    def get(self, year):
        return self.collection.find_one({"_id": str(year)})

    def exists(self, year):
        return self.collection.find_one({"_id": str(year)}, {"year": 1}) is not None

    def years(self):
        # One small document per campaign year: sorted here.
        return sorted((doc["year"] for doc in self.collection.find({}, {"year": 1})), reverse=True)

    def save(self, document):
        self.collection.replace_one({"_id": document["_id"]}, document, upsert=True)


class Atlaas:
    """The directory's entries: the initiatives published with their collectivité's
    consent, of released campaigns only (written at the release), and their
    postings: per year, the ids (newest first) of each enjeu, region, population
    band and search term, in chunks of POSTING_CHUNK ids under a head document
    listing each chunk's first id. A search reads a few small documents by `_id`
    (the one lookup FerretDB-SQLite answers without scanning), never the entries."""

    def __init__(self, db):
        self.collection = db[ATLAAS]
        self.postings = db[ATLAAS_POSTINGS]

    @staticmethod
    def posting_key(year, field, value=""):
        return f"{year}|{field}|{value}"

    def replace_year(self, year, entries):
        # A replayed computation starts over: same entries, same _ids.
        self.collection.delete_many({"year": year})
        self.postings.delete_many({"year": year})
        postings: dict[str, list[str]] = {}
        for entry in sorted(entries, key=lambda e: e["_id"], reverse=True):
            keys = [
                ("all", ""),
                ("enjeu", entry["enjeu"]),
                ("region", entry["region"]),
                ("band", entry["band"]),
            ]
            keys += [("term", term) for term in entry["terms"]]
            for field, value in keys:
                postings.setdefault(self.posting_key(year, field, value), []).append(entry["_id"])
        docs = []
        for key, ids in postings.items():
            chunks = [ids[start : start + POSTING_CHUNK] for start in range(0, len(ids), POSTING_CHUNK)]
            docs.append({"_id": key, "year": year, "count": len(ids), "firsts": [c[0] for c in chunks]})
            docs += [{"_id": f"{key}|{n:05d}", "year": year, "ids": c} for n, c in enumerate(chunks)]
        # The terms live in the postings only: the entries stay small.
        entries = [{key: value for key, value in entry.items() if key != "terms"} for entry in entries]
        for batch, target in ((entries, self.collection), (docs, self.postings)):
            for start in range(0, len(batch), ATLAAS_BATCH):
                target.insert_many(batch[start : start + ATLAAS_BATCH], ordered=False)

    def matching(self, year, keys, cursor, wanted):
        """Up to `wanted` ids of the year's entries below `cursor` matching every
        (field, value), newest first: the shortest posting drives, the others
        are probed chunk by chunk."""
        postings = []
        for field, value in keys or [("all", "")]:
            head = self.postings.find_one({"_id": self.posting_key(year, field, value)})
            if head is None:
                return []
            postings.append(_Posting(self.postings, head))
        postings.sort(key=lambda posting: posting.count)
        driver, others = postings[0], postings[1:]
        found: list[str] = []
        for entry_id in driver.ids_below(cursor):
            if all(other.contains(entry_id) for other in others):
                found.append(entry_id)
                if len(found) >= wanted:
                    break
        return found

    def get(self, entry_id):
        return self.collection.find_one({"_id": entry_id})


class _Posting:
    """One posting list read lazily, a chunk at a time (ids in descending order)."""

    def __init__(self, collection, head):
        self.collection = collection
        self.key = head["_id"]
        self.count = head["count"]
        self.firsts = head["firsts"]
        self.chunks: dict[int, list[str]] = {}
        self.sets: dict[int, set[str]] = {}

    def chunk(self, n):
        if n not in self.chunks:
            doc = self.collection.find_one({"_id": f"{self.key}|{n:05d}"})
            self.chunks[n] = doc["ids"] if doc else []
        return self.chunks[n]

    def chunk_of(self, entry_id):
        """The chunk that holds `entry_id` if any: the last whose first id is >= it."""
        index = 0
        for n, first in enumerate(self.firsts):
            if first < entry_id:
                break
            index = n
        return index

    def ids_below(self, cursor):
        for n in range(self.chunk_of(cursor) if cursor else 0, len(self.firsts)):
            for entry_id in self.chunk(n):
                if not cursor or entry_id < cursor:
                    yield entry_id

    def contains(self, entry_id):
        if not self.firsts or entry_id > self.firsts[0]:
            return False
        n = self.chunk_of(entry_id)
        if n not in self.sets:
            self.sets[n] = set(self.chunk(n))
        return entry_id in self.sets[n]
