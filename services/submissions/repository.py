"""One small class per collection of the submissions database. Writes go
through the ledger (relay.Outbox); these classes only read, and name the
collections and the `_id`s the ledger writes to."""

import re

from pymongo import ASCENDING, DESCENDING

from services.common.ledger import ensure_ledger_indexes

CAMPAIGNS = "campaigns"
COLLECTIVITES = "collectivites"
APPLICATIONS = "applications"


def ensure_indexes(db):
    ensure_ledger_indexes(db)
    # Only used on MongoDB/FerretDB-PostgreSQL; FerretDB-SQLite scans anyway.
    db[APPLICATIONS].create_index([("campaign_year", ASCENDING), ("state", ASCENDING)])
    db[COLLECTIVITES].create_index([("email", ASCENDING)])


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

    def count(self, year, state):
        return self.collection.count_documents({"campaign_year": year, "state": state})


BAROMETRES = "barometres"
ATLAAS = "atlaas"
ATLAAS_POSTINGS = "atlaas_postings"
ATLAAS_BATCH = 1000


class Barometres:
    """One baromètre document per released campaign (`_id` = year), computed
    at the release: derived data, rewritten whole by a replayed computation."""

    def __init__(self, db):
        self.collection = db[BAROMETRES]

    def get(self, year):
        return self.collection.find_one({"_id": str(year)})

    def years(self):
        # One small document per campaign year: sorted here.
        return sorted((doc["year"] for doc in self.collection.find({}, {"year": 1})), reverse=True)

    def save(self, document):
        self.collection.replace_one({"_id": document["_id"]}, document, upsert=True)


class Atlaas:
    """The directory's entries: the initiatives published with their collectivité's
    consent, of released campaigns only (written at the release), and their
    postings: per year, the ids (newest first) of each enjeu, region, population
    band and search term, so that a search reads a few documents by `_id` (the
    one lookup FerretDB-SQLite answers without scanning) rather than the entries."""

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
        docs = [{"_id": key, "year": year, "ids": ids} for key, ids in postings.items()]
        for batch in (entries, docs):
            target = self.collection if batch is entries else self.postings
            for start in range(0, len(batch), ATLAAS_BATCH):
                target.insert_many(batch[start : start + ATLAAS_BATCH], ordered=False)

    def matching(self, year, keys):
        """Ids of the year's entries matching every (field, value), newest first."""
        wanted = [self.posting_key(year, field, value) for field, value in keys] or [
            self.posting_key(year, "all")
        ]
        lists = []
        for key in wanted:
            doc = self.postings.find_one({"_id": key})
            if doc is None:
                return []
            lists.append(doc["ids"])
        lists.sort(key=len)
        found = set(lists[0]).intersection(*lists[1:]) if len(lists) > 1 else lists[0]
        return sorted(found, reverse=True)

    def get(self, entry_id):
        return self.collection.find_one({"_id": entry_id}, {"terms": 0})
