"""One small class per collection of the jury database (pymongo).

Documents the ledger versions (jurors, applications, tasks) are written
through the outbox; these classes read them, and own the small guard
collections whose uniquely keyed inserts decide exclusive steps.
"""

import threading
import time
import uuid

from pymongo import ASCENDING, UpdateOne
from pymongo.errors import DuplicateKeyError

from services.common.ledger import ensure_ledger_indexes
from services.common.markers import CampaignMarkers
from services.common.migrations import migration
from services.common.mongo import READ_BATCH, update_in_bulks
from services.common.shelves import DISPUTED, SHELF_WIDTHS, disputed_fields, shelf, shelf_fields
from services.common.tallies import Tallies
from services.jury.eligibility import ClaimIndex

# The task list of a claim carries no review bodies (they can be long).
_TASK_SUMMARY = {"review": 0}
# What a task's line in a list shows (eligibility.task_view).
_TASK_ROW = {
    key: 1
    for key in ("application_id", "campaign_year", "collectivite", "state", "claimed_by", "lease_expires_at")
}
# A deliberation row needs no dossier.
_APPLICATION_ROW = {"services": 0, "initiatives": 0}
SHELVES = "deliberation_shelves"


def ensure_indexes(db):
    ensure_ledger_indexes(db)
    # Used by MongoDB and FerretDB on PostgreSQL (on SQLite only `_id` lookups are pushed down).
    db["tasks"].create_index([("campaign_year", ASCENDING)])
    db["tasks"].create_index([("claimed_by", ASCENDING)])
    db["tasks"].create_index([("state", ASCENDING)])
    db["applications"].create_index([("campaign_year", ASCENDING)])
    for width in SHELF_WIDTHS:
        db["applications"].create_index([(f"shelf_{width}", ASCENDING)])
        db["applications"].create_index([(f"{DISPUTED}_{width}", ASCENDING)])
        db["tasks"].create_index([(f"shelf_{width}", ASCENDING)])
    db[SHELVES].create_index([("campaign_year", ASCENDING)])
    shelve_older_documents(db)
    shelve_older_disagreements(db)


@migration("deliberation-shelves")
def shelve_older_documents(db):
    """Applications and tasks stored before deliberation shelves existed get theirs."""
    shelves = Shelves(db)
    narrowest = f"shelf_{max(SHELF_WIDTHS)}"
    for app in db["applications"].find({narrowest: {"$exists": False}}, {"campaign_year": 1}):
        shelves.add(app["campaign_year"], shelf(app["_id"], max(SHELF_WIDTHS)))
        db["applications"].update_one({"_id": app["_id"]}, {"$set": shelf_fields(app["_id"])})
    for task in db["tasks"].find({narrowest: {"$exists": False}}, {"application_id": 1}):
        db["tasks"].update_one({"_id": task["_id"]}, {"$set": shelf_fields(task["application_id"])})


@migration("disputed-shelves")
def shelve_older_disagreements(db):
    """Applications whose reviewers disagreed before the disagreements view
    had its own shelves get theirs."""
    older = db["applications"].find({"disagreement": True, f"{DISPUTED}_1": {"$exists": False}}, {"_id": 1})
    update_in_bulks(
        db["applications"],
        [UpdateOne({"_id": a["_id"]}, {"$set": disputed_fields(a["_id"], True)}) for a in older],
    )


class Shelves(CampaignMarkers):
    """The narrowest deliberation shelves each campaign has (services/common/shelves.py)."""

    def __init__(self, db):
        super().__init__(db, SHELVES, "shelf")


class ShelfLists:
    """A per-process copy of each campaign's shelf list (Shelves), shared by
    the workers: each deliberation page read the whole list (937 markers,
    83 to 116 ms at 3,500 applications). It changes only while applications
    are submitted: a shelf this process adds goes into its copy, another
    replica's is seen within `max_age` seconds."""

    def __init__(self, max_age, clock=time.monotonic):
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._lists: dict = {}  # year -> (taken_at, sorted names)

    def of_campaign(self, year, load):
        with self._lock:
            entry = self._lists.get(year)
        if entry is not None and self._clock() - entry[0] <= self.max_age:
            return entry[1]
        taken_at, names = self._clock(), load(year)
        with self._lock:
            self._lists[year] = (taken_at, names)
        return names

    def add(self, year, name):
        with self._lock:
            entry = self._lists.get(year)
            if entry is not None and name not in entry[1]:
                self._lists[year] = (entry[0], sorted([*entry[1], name]))


class Jurors:
    def __init__(self, db):
        self.collection = db["jurors"]

    def get(self, juror_id):
        return self.collection.find_one({"_id": juror_id})

    def all(self):
        return list(self.collection.find({}, {"name": 1, "email": 1, "department": 1, "conflicts": 1}))


class Campaigns:
    def __init__(self, db):
        self.collection = db["campaigns"]

    def save(self, year, fields):
        self.collection.update_one({"_id": year}, {"$set": fields}, upsert=True)

    def get(self, year):
        return self.collection.find_one({"_id": year})

    def all(self):
        return list(self.collection.find({}))  # one small document per campaign


class Applications:
    """Per submitted application: what its review needs, and its consolidation."""

    def __init__(self, db):
        self.collection = db["applications"]

    def get(self, app_id):
        return self.collection.find_one({"_id": app_id})

    def of_campaign(self, year):
        return list(self.collection.find({"campaign_year": year}))

    def states_of_campaign(self, year):
        """State and disagreement of each, streamed: a count."""
        return self.collection.find({"campaign_year": year}, {"state": 1, "disagreement": 1})

    def on_shelf(self, year, width, name, disagreements=False):
        """A shelf's applications, or its disagreements alone (`disputed_fields`)."""
        field = DISPUTED if disagreements else "shelf"
        return list(self.collection.find({"campaign_year": year, f"{field}_{width}": name}, _APPLICATION_ROW))


class Tasks:
    """Review tasks, `_id` `<application id>:<n>`."""

    def __init__(self, db):
        self.collection = db["tasks"]

    def get(self, task_id, summary=False):
        return self.collection.find_one({"_id": task_id}, _TASK_SUMMARY if summary else None)

    def of_campaign(self, year):
        """With their reviews: the whole deliberation."""
        # On FerretDB/SQLite this filter scans the collection (see bench_claims.py).
        return list(self.collection.find({"campaign_year": year}))

    def scan_of_campaign(self, year):
        """Each, without its review, streamed (a claim copy keeps a few fields)."""
        return self.collection.find({"campaign_year": year}, _TASK_SUMMARY)

    def states_of_campaign(self, year):
        """State, claimer and lease of each, streamed: a count."""
        return self.collection.find(
            {"campaign_year": year}, {"state": 1, "claimed_by": 1, "lease_expires_at": 1}
        )

    def on_shelf(self, year, width, name, summary=False):
        """With their reviews (a deliberation page) unless `summary`."""
        query = {"campaign_year": year, f"shelf_{width}": name}
        return list(self.collection.find(query, _TASK_SUMMARY if summary else None))

    def claimable_candidates(self, campaign_year=None, states=("open", "claimed"), fields=_TASK_SUMMARY):
        """The open and the claimed tasks (a lease may have run out), streamed,
        each state read by equality: the done and cancelled ones of every
        campaign ever stored stay unread."""
        for state in states:
            query = {"state": state, **({"campaign_year": campaign_year} if campaign_year else {})}
            yield from self.collection.find(query, fields)

    def reviewers_of_campaign(self, year):
        """Who did each review, and of which application, streamed."""
        return self.collection.find(
            {"campaign_year": year, "state": "done"}, {"claimed_by": 1, "application_id": 1}
        )

    def of_juror(self, juror_id, state, campaign_year=None, after=None, limit=None):
        """The tasks this juror claimed that are in `state` (held or lapsed;
        or reviewed), by id after task `after`, at most `limit`: what a page
        of their list shows, read by equality on the juror (indexed) and the
        state. Not all their tasks of every year: a juror's reviews pile up
        campaign after campaign."""
        query = {"claimed_by": juror_id, "state": state}
        if campaign_year:
            query["campaign_year"] = campaign_year
        if after:
            query["_id"] = {"$gt": after}
        found = self.collection.find(query, _TASK_ROW, batch_size=READ_BATCH).sort("_id", ASCENDING)
        return list(found.limit(limit) if limit else found)


class Assignments:
    """`<juror>:<application>`: a juror holds (or held) a task of that application.
    Also `email:<address>`: one juror per e-mail address."""

    def __init__(self, db):
        self.collection = db["assignments"]

    def reserve(self, juror_id, app_id, nonce, now):
        try:
            self.collection.insert_one(
                {
                    "_id": f"{juror_id}:{app_id}",
                    "juror_id": juror_id,
                    "application_id": app_id,
                    "nonce": nonce,
                    "at": now,
                }
            )
            return True
        except DuplicateKeyError:
            return False

    def get(self, juror_id, app_id):
        return self.collection.find_one({"_id": f"{juror_id}:{app_id}"})

    def take_over(self, juror_id, app_id, stale, nonce, now):
        """Replace the reservation `stale` (a document read before) with a new
        one: its conditional delete, then the insert, which decides between
        concurrent takers."""
        self.unreserve(juror_id, app_id, stale.get("nonce"))
        return self.reserve(juror_id, app_id, nonce, now)

    def unreserve(self, juror_id, app_id, nonce):
        # Only the attempt that reserved it may undo it: one conditional delete
        # (our FerretDB build looks {_id, nonce} up by the _id index).
        self.collection.delete_one({"_id": f"{juror_id}:{app_id}", "nonce": nonce})

    def release(self, juror_id, app_id):
        self.collection.delete_one({"_id": f"{juror_id}:{app_id}"})

    def applications_of(self, juror_id):
        return {
            doc["application_id"]
            for doc in self.collection.find({"juror_id": juror_id}, {"application_id": 1})
        }

    def juror_of_email(self, email):
        doc = self.collection.find_one({"_id": f"email:{email.strip().lower()}"})
        return doc["juror"] if doc else None

    def reserve_email(self, email, juror_id):
        try:
            self.collection.insert_one({"_id": f"email:{email.strip().lower()}", "juror": juror_id})
            return True
        except DuplicateKeyError:
            return False


class ReviewStarts:
    """`<application id>`: its first claim happened (the "review starts" mail)."""

    def __init__(self, db):
        self.collection = db["review_starts"]

    def designates(self, app_id, task_id, version):
        """True when the application's first claim is this slot (inserting the marker if none)."""
        try:
            self.collection.insert_one({"_id": app_id, "task_id": task_id, "version": version})
            return True
        except DuplicateKeyError:
            marker = self.collection.find_one({"_id": app_id}) or {}
            return marker.get("task_id") == task_id and marker.get("version") == version


class Digests:
    """`<juror>:<year>`: the newest task time covered by the juror's last digest."""

    def __init__(self, db):
        self.collection = db["digests"]

    def watermark(self, juror_id, year):
        doc = self.collection.find_one({"_id": f"{juror_id}:{year}"})
        return doc["newest"] if doc else None

    def set_watermark(self, juror_id, year, newest):
        self.collection.update_one({"_id": f"{juror_id}:{year}"}, {"$set": {"newest": newest}}, upsert=True)


class PendingConsolidations:
    """A review was written and the consolidation it owes may not have happened
    yet (a crash, a database error, too many conflicts). Set before the review
    is written, cleared once consolidate() has run; the sweep runs what is
    left. A small collection: only work in flight.

    One document per review, `<application id>#<token>`, only inserted and
    deleted by `_id`: FerretDB v1 reads a filtered update or delete's document
    and then writes it by `_id` alone, so a marker updated in place could be
    deleted by a clear() meant for the one it replaced."""

    def __init__(self, db):
        self.collection = db["consolidations_pending"]

    def mark(self, app_id, now):
        """A new marker for this review; returns it, for clear()."""
        marker = f"{app_id}#{uuid.uuid4().hex}"
        self.collection.insert_one({"_id": marker, "application_id": app_id, "at": now})
        return marker

    def due(self, before, limit=200):
        """(application id, marker) of the markers set before `before`."""
        found = self.collection.find({"at": {"$lte": before}}, {"_id": 1, "application_id": 1}).limit(limit)
        # markers written before they were one per review: keyed by the application's id
        return [(doc.get("application_id", doc["_id"]), doc["_id"]) for doc in found]

    def clear(self, app_id, marker):
        self.collection.delete_one({"_id": marker})


class Repositories:
    def __init__(self, db):
        self.jurors = Jurors(db)
        self.campaigns = Campaigns(db)
        self.applications = Applications(db)
        self.tasks = Tasks(db)
        self.assignments = Assignments(db)
        self.review_starts = ReviewStarts(db)
        self.digests = Digests(db)
        self.pending_consolidations = PendingConsolidations(db)
        self.shelves = Shelves(db)
        self.tallies = Tallies(db)


class _Copy:
    """One campaign's claim copy: its ClaimIndex, and when what may be
    claimed was last read into it."""

    def __init__(self, index, refreshed_at):
        self.index = index
        self.refreshed_at = refreshed_at
        self.refreshing = False


class TaskSnapshots:
    """A per-process, per-campaign copy of the task list, arranged for
    claiming (eligibility.ClaimIndex) and shared by the workers, so a claim
    does not scan the task collection (a national campaign's 70,000 tasks
    take seconds to read).

    Only a hint: every claim re-reads its candidate by `_id` and is decided by
    uniquely keyed inserts, so a stale copy (another replica's claims, a task
    created a moment ago) costs a wasted probe, never a double claim. The
    whole list is read once, by the campaign's first claim in this process
    (the others wait for it). After that the copy is kept up to date in
    place, never read again whole beside itself: this process's own writes
    and probes (`remember`), and `refresh`, which reads only the campaign's
    open and claimed tasks (by state, indexed): what another replica created
    or let lapse, the only tasks a copy may wrongly lack.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._copies = {}  # year -> _Copy
        self._loading = {}  # year -> threading.Event of the first read in progress
        self._jurors = {}

    def claim_index(self, year, load, now):
        """The campaign's claim index; the first call reads it with `load()`
        (every task of the campaign, streamed) and the others wait for it."""
        while True:
            with self._lock:
                copy = self._copies.get(year)
                if copy is not None:
                    return copy.index
                loading = self._loading.get(year)
                mine = loading is None
                if mine:
                    loading = self._loading[year] = threading.Event()
            if not mine:
                loading.wait(30)
                continue  # read, or its reader failed: look again
            try:
                started = self._clock()
                index = ClaimIndex(load(), now)
                with self._lock:
                    self._copies[year] = _Copy(index, started)
                return index
            finally:
                with self._lock:
                    self._loading.pop(year, None)
                loading.set()

    def refresh(self, year, load_claimable, within):
        """Reads what may be claimed (`load_claimable()`: the campaign's open
        and claimed tasks) into the copy, in place. Not when there is no copy,
        when one was read less than `within` seconds ago, or while another
        worker reads; returns whether it read."""
        with self._lock:
            copy = self._copies.get(year)
            if copy is None or copy.refreshing or self._clock() - copy.refreshed_at < within:
                return False
            copy.refreshing, started = True, self._clock()
        try:
            for task in load_claimable():
                self.remember(task)
            copy.refreshed_at = started
            return True
        finally:
            copy.refreshing = False

    def years(self):
        with self._lock:
            return list(self._copies)

    def drop(self, year):
        """A released campaign is claimed no more: its copy is let go."""
        with self._lock:
            self._copies.pop(year, None)

    def remember(self, task):
        if not task:
            return
        with self._lock:
            copy = self._copies.get(task["campaign_year"])
            if copy is not None:
                copy.index.learn(task)

    def forget_juror(self, juror_id):
        """A juror declared a conflict: read them again next time. (Another
        replica's copy may lag; the assignment kept on the application still
        stops that claim.)"""
        with self._lock:
            self._jurors.pop(juror_id, None)

    def juror(self, juror_id, load):
        # Jurors change only by declaring a conflict (forget_juror).
        juror = self._jurors.get(juror_id)
        if juror is None:
            juror = load(juror_id)
            if juror is not None:
                self._jurors[juror_id] = juror
        return juror
