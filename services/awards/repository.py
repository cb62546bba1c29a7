"""The awards service's collections. Documents are keyed by meaningful `_id`s
(application id, campaign year, `<year>:<chunk>`) so hot reads are `_id` lookups.

- campaigns      {_id: year}: title, closing date, ceremony, mention labels (from campaign_opened)
- applications   {_id: application id}: campaign_year, collectivite (from application_submitted),
                 its release part
- withdrawals    {_id: application id} (from application_withdrawn)
- proposals      {_id: application id}: the jury's consolidated proposal and reviews, its
                 release part (release.release_part: the write-out reads a part at a time)
- decisions      {_id: application id}: the organiser's decision (ledger-versioned)
- moderation     {_id: "<application id>|<review id>"}: an organiser's moderation of a juror's
                 comment, its entries [{state, text, by, at}] (last one stands, feedback.py),
                 its application's release part
- ready_changes  {_id: year}: a token renewed by each proposal or withdrawal
- ready_state    {_id: year}: bookkeeping of the deliberation_ready check (the token it saw)
- release_requests {_id: year}: an organiser's standing request for the release, its state
                 (requested, refused with the reason, decided): the timer drafts and decides it
- releases       {_id: year}: the released palmarès' summary and statistics
- palmares       {_id: "<year>:<chunk>"}: the released entries' public fields, 500 per document
                 (before result buckets: whole entries)
- results        {_id: "<year>:<bucket>"}: the whole entries (feedback included) by application,
                 about 100 per document (release.result_bucket): one collectivité's result is one
                 `_id` read
- level_buckets  {_id: "<year>:<bucket>"}: the collectivités' labels of that year,
                 levels {code: {arobases, source}}, LEVEL_BUCKETS documents a year (a
                 stable hash of the code): the label's history, read by each draft
- draft_exports  {_id: "<export>:<chunk>"}: an organiser's draft written out for one export
                 (logic.draft_export), 500 public lines per document, swept after minutes
- changes        the ledger (the release and its batches are ledger steps, see logic.release_key)
"""

import uuid
import zlib

from pymongo import ASCENDING, UpdateOne
from pymongo.errors import DuplicateKeyError

from services.awards.release import release_part
from services.common.ledger import ensure_ledger_indexes, find_step, insert_new
from services.common.migrations import migration
from services.common.mongo import READ_BATCH, update_in_bulks
from services.common.shelves import SHELF_WIDTHS, shelf_fields
from services.common.tallies import Tallies

# The label's history is kept by year, in this many documents a year: a
# national release writes 64 of them, where one document per collectivité
# took 35,000 upserts (3 to 4 ms each on FerretDB), and a draft reads them by
# bucket (an equality), where a `$in` of codes made FerretDB scan every
# collectivité's document once per 5,000 codes.
LEVEL_BUCKETS = 64
LEVELS = "level_buckets"
OLD_LEVELS = "levels"  # one document per collectivité, before LEVELS
DRAFT_EXPORTS = "draft_exports"


def level_bucket(code: str) -> int:
    """The bucket of a collectivité's code: a stable hash (not Python's, salted per process)."""
    return zlib.crc32(code.encode()) % LEVEL_BUCKETS


def ensure_indexes(db):
    ensure_ledger_indexes(db)
    db[DRAFT_EXPORTS].create_index([("at", ASCENDING)])
    db[LEVELS].create_index([("bucket", ASCENDING)])
    for name in ("applications", "proposals", "moderation"):
        db[name].create_index([("campaign_year", ASCENDING), ("part", ASCENDING)])
    for width in SHELF_WIDTHS:
        db["decisions"].create_index([(f"shelf_{width}", ASCENDING)])
    bucket_older_levels(db)
    part_older_reviews(db)
    part_older_applications(db)
    shelve_older_decisions(db)


@migration("release-parts")
def part_older_reviews(db):
    """Proposals and moderations stored before release parts get theirs."""
    for name, id_field in (("proposals", "_id"), ("moderation", "application_id")):
        older = db[name].find({"part": {"$exists": False}}, {id_field: 1}, batch_size=READ_BATCH)
        _give_parts(db[name], older, id_field)


@migration("application-parts")
def part_older_applications(db):
    """Applications stored before the write-out read them by release part get theirs."""
    older = db["applications"].find({"part": {"$exists": False}}, {"_id": 1}, batch_size=READ_BATCH)
    _give_parts(db["applications"], older, "_id")


@migration("decision-shelves")
def shelve_older_decisions(db):
    """Decisions stored before they were kept on shelves get theirs."""
    older = db["decisions"].find({"shelf_1": {"$exists": False}}, {"_id": 1}, batch_size=READ_BATCH)
    update_in_bulks(
        db["decisions"], [UpdateOne({"_id": d["_id"]}, {"$set": shelf_fields(d["_id"])}) for d in older]
    )


def _give_parts(collection, docs, id_field):
    """Each of `docs` ({_id, id_field}) gets the release part of its application."""
    parts = [UpdateOne({"_id": d["_id"]}, {"$set": {"part": release_part(d[id_field])}}) for d in docs]
    update_in_bulks(collection, parts)


@migration("level-buckets")
def bucket_older_levels(db):
    """Levels stored one document per collectivité move to their year's
    buckets; the old collection goes only after the buckets are written."""
    rows: dict[tuple[int, str], list[tuple[str, int]]] = {}
    for doc in db[OLD_LEVELS].find({}):
        for year, level in doc.get("years", {}).items():
            rows.setdefault((int(year), level.get("source", "imported")), []).append(
                (doc["_id"], level["arobases"])
            )
    repo = AwardsRepository(db)
    for (year, source), levels in sorted(rows.items()):
        repo.record_levels(year, levels, source)
    db.drop_collection(OLD_LEVELS)


def _insert_once(collection, doc):
    try:
        collection.insert_one(doc)
    except DuplicateKeyError:
        pass  # a redelivered event: the first copy stands


class AwardsRepository:
    def __init__(self, db):
        self.db = db
        self.tallies = Tallies(db)

    # campaigns

    def save_campaign(self, doc):
        self.db.campaigns.update_one({"_id": doc["_id"]}, {"$set": doc}, upsert=True)

    def campaign(self, year):
        return self.db.campaigns.find_one({"_id": year})

    def campaigns(self):
        return list(self.db.campaigns.find({}))

    # inputs

    def add_applications(self, docs):
        """Each inserted once: a redelivered event's copy loses its insert."""
        insert_new(self.db.applications, [dict(doc, part=release_part(doc["_id"])) for doc in docs])

    def application(self, application_id):
        return self.db.applications.find_one({"_id": application_id})

    def applications(self, year):
        return list(self.db.applications.find({"campaign_year": year}))

    def campaign_applications(self, year, part=None):
        """A campaign's applications, or one release part's, streamed."""
        query = {"campaign_year": year, **({} if part is None else {"part": part})}
        return self.db.applications.find(query, batch_size=READ_BATCH)

    def ids_of_campaign(self, collection, year):
        """The ids of a campaign's applications, withdrawals or proposals, streamed into a set."""
        found = self.db[collection].find({"campaign_year": year}, {"_id": 1}, batch_size=READ_BATCH)
        return {doc["_id"] for doc in found}

    def add_withdrawal(self, doc):
        _insert_once(self.db.withdrawals, doc)

    def withdrawal(self, application_id):
        return self.db.withdrawals.find_one({"_id": application_id})

    def withdrawals(self, year):
        return list(self.db.withdrawals.find({"campaign_year": year}))

    def save_proposal(self, doc):
        # A later consolidation (one more review) replaces the earlier one.
        doc = dict(doc, part=release_part(doc["_id"]))
        self.db.proposals.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    def proposal(self, application_id):
        return self.db.proposals.find_one({"_id": application_id})

    def proposals(self, year, with_reviews=False):
        """A campaign's proposals; without reviews, only the proposal itself
        (the reviews and the collectivité are the bulk of a national campaign)."""
        projection = None if with_reviews else {"proposal": 1, "received_at": 1}
        return list(self.db.proposals.find({"campaign_year": year}, projection, batch_size=READ_BATCH))

    def review_scores(self, year):
        """The scores of a campaign's reviews, streamed: {_id, reviews: [{scores}], received_at, part}."""
        projection = {"reviews.scores": 1, "received_at": 1, "part": 1}
        return self.db.proposals.find({"campaign_year": year}, projection, batch_size=READ_BATCH)

    def give_parts(self, year, proposal_ids):
        """Release parts for these proposals and the campaign's moderations
        written without one after the migration (by a replica still running
        the code before it, during a deploy)."""
        _give_parts(self.db.proposals, ({"_id": i} for i in proposal_ids), "_id")
        partless = {"campaign_year": year, "part": {"$exists": False}}
        moderations = self.db.moderation.find(partless, {"application_id": 1}, batch_size=READ_BATCH)
        _give_parts(self.db.moderation, moderations, "application_id")

    def reviews(self, year, part):
        """The reviews of one release part's proposals (release.release_part):
        {_id, reviews, received_at}."""
        query = {"campaign_year": year, "part": part}
        return self.db.proposals.find(query, {"reviews": 1, "received_at": 1}, batch_size=READ_BATCH)

    # decisions (written through the ledger, read here)

    def decision(self, application_id):
        return self.db.decisions.find_one({"_id": application_id})

    def decisions(self, year):
        return list(self.db.decisions.find({"campaign_year": year}))

    def decisions_on_shelf(self, width, name):
        return list(self.db.decisions.find({f"shelf_{width}": name}))

    # comment moderation (last writer wins: an organiser's later choice replaces the earlier)

    def add_moderation(self, application_id, year, review_id, entry):
        key = f"{application_id}|{review_id}"
        current = self.db.moderation.find_one({"_id": key})
        entries = (current or {}).get("entries", [])[-19:] + [entry]  # bounded history
        self.db.moderation.replace_one(
            {"_id": key},
            {
                "_id": key,
                "application_id": application_id,
                "campaign_year": year,
                "part": release_part(application_id),
                "review_id": review_id,
                "entries": entries,
            },
            upsert=True,
        )

    def moderation_of(self, application_id):
        """{review id: entries} of one application."""
        docs = self.db.moderation.find({"application_id": application_id})
        return {doc["review_id"]: doc["entries"] for doc in docs}

    def moderations(self, year, part):
        """{application id: {review id: entries}} of a campaign's release part."""
        found: dict = {}
        query = {"campaign_year": year, "part": part}
        for doc in self.db.moderation.find(query, batch_size=READ_BATCH):
            found.setdefault(doc["application_id"], {})[doc["review_id"]] = doc["entries"]
        return found

    # deliberation_ready bookkeeping. FerretDB v1 rewrites a whole document per
    # update (read, then write by `_id`): of two writers of one document, one's
    # write can be lost. So each document has one kind of writer: every new
    # proposal or withdrawal sets a fresh random token (a lost write still leaves
    # a token the check has not seen; a counter could go back), and only the
    # check writes ready_state.

    def note_ready_change(self, year):
        try:
            self.db.ready_changes.update_one(
                {"_id": year}, {"$set": {"token": uuid.uuid4().hex}}, upsert=True
            )
        except DuplicateKeyError:  # two first upserts at once: the other's insert stands
            self.db.ready_changes.update_one({"_id": year}, {"$set": {"token": uuid.uuid4().hex}})

    def ready_change(self, year):
        """The token of the campaign's last change, None before any."""
        doc = self.db.ready_changes.find_one({"_id": year})
        return doc["token"] if doc else None

    def ready_state(self, year):
        return self.db.ready_state.find_one({"_id": year}) or {}

    def set_ready_state(self, year, fields):
        self.db.ready_state.update_one({"_id": year}, {"$set": fields}, upsert=True)

    # release

    def step(self, key):
        return find_step(self.db, key)

    def release_step(self, year):
        """The ledger record that decided the release, None while embargoed."""
        return self.step(f"release:{year}")

    def save_palmares_chunk(self, year, index, entries):
        self.db.palmares.replace_one(
            {"_id": f"{year}:{index}"},
            {"_id": f"{year}:{index}", "year": year, "entries": entries},
            upsert=True,
        )

    def save_draft_chunk(self, export, index, entries, at):
        self.db[DRAFT_EXPORTS].insert_one(
            {"_id": f"{export}:{index}", "export": export, "entries": entries, "at": at}
        )

    def draft_chunk(self, export, index):
        chunk = self.db[DRAFT_EXPORTS].find_one({"_id": f"{export}:{index}"})
        return chunk["entries"] if chunk else []

    def drop_draft_exports(self, before):
        return self.db[DRAFT_EXPORTS].delete_many({"at": {"$lt": before}}).deleted_count

    def save_result_bucket(self, year, index, entries):
        self.db.results.replace_one(
            {"_id": f"{year}:{index}"},
            {"_id": f"{year}:{index}", "year": year, "entries": entries},
            upsert=True,
        )

    def result_entry(self, year, application_id, bucket):
        """One application's released entry (with its feedback) from its bucket; None if not labelled."""
        doc = self.db.results.find_one({"_id": f"{year}:{bucket}"}) or {}
        return next((e for e in doc.get("entries", []) if e["application_id"] == application_id), None)

    def save_release(self, doc):
        self.db.releases.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    def release(self, year):
        return self.db.releases.find_one({"_id": year})

    def take_completion(self, year, owner, now, until):
        """True for the one completer of a release (a uniquely keyed insert
        decides); a lease left by a dead completer is taken over once expired."""
        key = f"complete:{year}"
        lease = self.db.completion_leases.find_one({"_id": key})
        if lease is not None and lease["until"] > now:
            return lease["owner"] == owner
        if lease is not None:
            # Expired: of the completers that see it, the one whose takeover
            # insert wins removes it. Not a delete filtered on its owner: FerretDB
            # v1 reads the document, then deletes by `_id` alone, which could
            # remove the lease another completer has just taken.
            try:
                self.db.completion_leases.insert_one({"_id": f"{key}:taken:{lease['owner']}", "at": now})
            except DuplicateKeyError:
                return False
            self.db.completion_leases.delete_one({"_id": key})
        try:
            self.db.completion_leases.insert_one({"_id": key, "owner": owner, "until": until})
            return True
        except DuplicateKeyError:
            return False

    def renew_completion(self, year, owner, until):
        """Whether `owner` still holds the release's completion lease; if so,
        it now runs to `until`. (FerretDB v1 updates by reading then writing
        back: a takeover between the two is possible only once the lease ran
        out, and a completer renews it long before.)"""
        found = self.db.completion_leases.update_one(
            {"_id": f"complete:{year}", "owner": owner}, {"$set": {"until": until}}
        )
        return found.matched_count == 1

    def releases(self):
        return list(self.db.releases.find({}, {"stats": 0}))

    # release requests: at most one standing per campaign

    def request_release(self, doc):
        """`doc` becomes the campaign's request unless one stands: a refused
        request is replaced, any other is returned as it is."""
        try:
            self.db.release_requests.insert_one(doc)
            return doc
        except DuplicateKeyError:
            pass
        standing = self.release_request(doc["_id"])
        if standing is not None and standing["state"] == "refused":
            self.db.release_requests.replace_one(
                {"_id": doc["_id"], "requested_at": standing["requested_at"]}, doc
            )
            return self.release_request(doc["_id"])
        return standing

    def release_request(self, year):
        return self.db.release_requests.find_one({"_id": year})

    def requested_releases(self, state, limit):
        return list(self.db.release_requests.find({"state": state}).limit(limit))

    def settle_release_request(self, year, requested_at, state, refusal=None):
        """The outcome of this request (not of a later one that replaced it)."""
        self.db.release_requests.update_one(
            {"_id": year, "requested_at": requested_at}, {"$set": {"state": state, "refusal": refusal}}
        )

    # levels: each collectivité's labels over the years (its INSEE code or SIREN), by year

    def levels_of(self, codes):
        """{code: {year: arobases}} for these codes (released or imported years):
        one read per bucket they fall in, each bucket's every year."""
        wanted = set(codes)
        found: dict[str, dict[int, int]] = {}
        for bucket in sorted({level_bucket(code) for code in wanted}):
            for doc in self.db[LEVELS].find({"bucket": bucket}):
                for code, level in doc.get("levels", {}).items():
                    if code in wanted:
                        found.setdefault(code, {})[int(doc["year"])] = level["arobases"]
        return found

    def record_levels(self, year, rows, source):
        """rows: [(code, arobases)], codes as validated (digits, A or B: safe as
        field names); one upsert per bucket; idempotent (the same year written
        again is the same)."""
        buckets: dict[int, dict[str, dict]] = {}
        for code, arobases in rows:
            buckets.setdefault(level_bucket(code), {})[f"levels.{code}"] = {
                "arobases": arobases,
                "source": source,
            }
        for bucket, levels in sorted(buckets.items()):
            self.db[LEVELS].update_one(
                {"_id": f"{year}:{bucket}"},
                {"$set": {"year": year, "bucket": bucket, **levels}},
                upsert=True,
            )

    def palmares_entry(self, year, application_id):
        """One application's stored palmarès line, None if absent (with its feedback in a
        release stored before result buckets: their reader now)."""
        for entry in self.palmares_entries(year):
            if entry["application_id"] == application_id:
                return entry
        return None

    def palmares_entries(self, year, first=0, last=None):
        """The released lines, of chunks `first` to `last` (all by default)."""
        release = self.release(year)
        if not release:
            return []
        entries = []
        last = release.get("chunks", 0) - 1 if last is None else last
        for index in range(first, last + 1):
            entries.extend(self.palmares_chunk(year, index))
        return entries

    def palmares_chunk(self, year, index):
        """One chunk of the released lines ([] past the last)."""
        chunk = self.db.palmares.find_one({"_id": f"{year}:{index}"})
        return chunk["entries"] if chunk else []
