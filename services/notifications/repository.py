"""One small class per collection of the notifications database."""

import uuid
from datetime import timedelta

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.errors import DuplicateKeyError

from services.common.clock import as_utc, utcnow
from services.common.ledger import ensure_ledger_indexes, find_step, insert_new
from services.common.mongo import READ_BATCH, delete_ids, update_in_bulks
from services.common.tallies import Tallies
from services.notifications.logic import EmailState

EMAILS = "emails"
SEND_ATTEMPTS = "send_attempts"
RELEASES = "releases"
HELD_AWARDS = "held_awards"
CAMPAIGNS = "campaigns"
# One marker per email still to be sent (`_id` = email id): the sender's poll
# reads this small collection, not every email ever stored (on FerretDB/SQLite
# any filter other than `_id` scans the whole collection).
SEND_QUEUE = "send_queue"
# A marker whose email is missing or no longer queued (a crash between the two
# writes, a redelivered event of an email already sent) is dropped after this
# long. Every writer refreshes `queued_at` just before writing the email, so a
# marker is only dropped if that writer stalled longer than this.
ORPHAN_MARKER_AGE = timedelta(seconds=60)
# Until then it is looked at again this often (its email may be a moment away).
ORPHAN_RECHECK = timedelta(seconds=5)
LISTED = {"text": 0, "html": 0}  # a list shows no body
# Emails queued together (one insert_many: a batch of award_decided, say)
# share a `queue_batch`, as do their markers: when this many of a batch's
# markers come due in one poll, its emails are read by that equality (one
# read) instead of one by one, and sent ones leave by it too (one update, one
# delete for the batch instead of one round trip per email).
BATCH_READ_MIN = 4


def ensure_indexes(db):
    ensure_ledger_indexes(db)
    # Used by real MongoDB; FerretDB/SQLite scans anyway (only _id is pushed down).
    db[EMAILS].create_index([("state", ASCENDING), ("next_attempt_at", ASCENDING)])
    db[EMAILS].create_index([("created_at", DESCENDING)])
    db[EMAILS].create_index([("recipient", ASCENDING)])
    db[SEND_QUEUE].create_index([("next_attempt_at", ASCENDING)])
    db[EMAILS].create_index([("queue_batch", ASCENDING)])
    db[SEND_QUEUE].create_index([("queue_batch", ASCENDING)])
    db[HELD_AWARDS].create_index([("campaign_year", ASCENDING)])
    backfill_send_queue(db)


def backfill_send_queue(db):
    """Queued emails stored before the send queue existed get their marker
    (one scan of `emails` per process start; a no-op once they have one)."""
    queue = SendQueue(db)
    for doc in db[EMAILS].find({"state": EmailState.QUEUED}, {"next_attempt_at": 1}):
        queue.put(doc["_id"], doc.get("next_attempt_at") or utcnow(), refresh=False)


class SendQueue:
    """`send_queue/<email id>`: present while the email still has to be sent."""

    def __init__(self, db):
        self.col = db[SEND_QUEUE]

    def put(self, email_id, next_attempt_at, refresh=True, reschedule=False):
        """Insert the marker. An existing one gets a fresh `queued_at` (the orphan
        drop in `due` leaves it alone while its writer goes on) and keeps its time
        unless `reschedule` (a redelivered event must not cut a retry's backoff)."""
        now = utcnow()
        try:
            self.col.insert_one({"_id": email_id, "next_attempt_at": next_attempt_at, "queued_at": now})
        except DuplicateKeyError:
            fields = dict(
                {"queued_at": now} if refresh else {},
                **({"next_attempt_at": next_attempt_at} if reschedule else {}),
            )
            if fields:
                self.col.update_one({"_id": email_id}, {"$set": fields})

    def put_many(self, markers, queue_batch):
        """`put` for [(email id, next_attempt_at)] of one `queue_batch`: one
        insert_many; a marker already there gets its fresh `queued_at` alone (a
        redelivery: rare)."""
        now = utcnow()
        docs = [
            {"_id": email_id, "next_attempt_at": at, "queued_at": now, "queue_batch": queue_batch}
            for email_id, at in markers
        ]
        for n in sorted(insert_new(self.col, docs)):
            self.col.update_one({"_id": docs[n]["_id"]}, {"$set": {"queued_at": now}})

    def schedule(self, email_id, next_attempt_at):
        self.col.update_one({"_id": email_id}, {"$set": {"next_attempt_at": next_attempt_at}})

    def due(self, now, limit):
        # No sort: FerretDB/SQLite then stops at the `limit`th due marker (in
        # insertion order, near enough oldest first) instead of reading and
        # sorting the whole queue: 9 ms against 5 s with 35,000 queued (a
        # national release). MongoDB walks the next_attempt_at index anyway.
        return list(self.col.find({"next_attempt_at": {"$lte": now}}).limit(limit))

    def first(self):
        return self.col.find_one({}, sort=[("next_attempt_at", ASCENDING)])

    def remove(self, email_id):
        self.col.delete_one({"_id": email_id})

    def remove_many(self, email_ids, queue_batch=None):
        delete_ids(self.col, email_ids, {"queue_batch": queue_batch} if queue_batch else None)


class EmailRepository:
    def __init__(self, db):
        self.col = db[EMAILS]
        self.queue = SendQueue(db)

    def insert_new(self, doc):
        """False when this email (same event, template, recipient) already exists."""
        if doc["state"] == EmailState.QUEUED:
            # The marker first: a crash between the two inserts leaves a marker
            # without its email (dropped by `due` after ORPHAN_MARKER_AGE), never
            # a queued email the sender cannot see.
            self.queue.put(doc["_id"], doc["next_attempt_at"])
        try:
            self.col.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    def insert_new_many(self, docs):
        """`insert_new` for many queued emails, one `queue_batch`: the markers in
        one insert_many, then the emails in one; returns the docs inserted (not
        there before)."""
        queue_batch = uuid.uuid4().hex
        docs = [dict(doc, queue_batch=queue_batch) for doc in docs]
        self.queue.put_many([(doc["_id"], doc["next_attempt_at"]) for doc in docs], queue_batch)
        lost = insert_new(self.col, docs)
        return [doc for n, doc in enumerate(docs) if n not in lost]

    def get(self, email_id):
        return self.col.find_one({"_id": email_id})

    def due(self, now, limit):
        """Queued emails whose next attempt is due, read through the send queue:
        up to `limit` markers, then their emails, by `_id` or, for a queue batch
        with BATCH_READ_MIN due markers or more, the batch's every due email
        (so a batch may exceed `limit`); orphan markers on the way are dropped
        or put aside."""
        markers = self.queue.due(now, limit)
        by_batch = {}
        for marker in markers:
            by_batch.setdefault(marker.get("queue_batch"), []).append(marker)
        found, alone = {}, []
        for queue_batch, batch in by_batch.items():
            if queue_batch is None or len(batch) < BATCH_READ_MIN:
                alone.extend(batch)
                continue
            queued = {"queue_batch": queue_batch, "state": EmailState.QUEUED}
            for email in self.col.find(queued, batch_size=READ_BATCH):
                if as_utc(email.get("next_attempt_at") or now) <= now:
                    found[email["_id"]] = email
            alone.extend(m for m in batch if m["_id"] not in found)
        for marker in alone:
            email = self.get(marker["_id"])
            if email is not None and email["state"] == EmailState.QUEUED:
                found[email["_id"]] = email
                continue
            queued_at = as_utc(marker.get("queued_at") or now)
            if queued_at < now - ORPHAN_MARKER_AGE:
                self.queue.remove(marker["_id"])
            else:  # its writer may be a moment away from the email: look again soon
                self.queue.schedule(marker["_id"], now + ORPHAN_RECHECK)
        return list(found.values())

    def next_due_at(self):
        marker = self.queue.first()
        return marker and marker.get("next_attempt_at")

    def counts(self, campaign_year, kind=None):
        """{state: n} of a campaign's emails (the release's progress when kind="result")."""
        match = {"campaign_year": campaign_year} | ({"kind": kind} if kind else {})
        return {
            doc["_id"]: doc["n"]
            for doc in self.col.aggregate(
                [{"$match": match}, {"$group": {"_id": "$state", "n": {"$sum": 1}}}]
            )
        }

    def listing(self, state=None, limit=500, after=None, recipient=None):
        """Newest first, by (created_at, _id); `after`: the (created_at, _id) of the
        previous page's last email (a range read, not a skip). Without `state`
        or `recipient` (equalities), a sort of every email ever stored."""
        query = ({"state": state} if state else {}) | ({"recipient": recipient} if recipient else {})
        if after is not None:
            created_at, email_id = after
            query["$or"] = [
                {"created_at": {"$lt": created_at}},
                {"created_at": created_at, "_id": {"$lt": email_id}},
            ]
        cursor = self.col.find(query, LISTED).sort([("created_at", DESCENDING), ("_id", DESCENDING)])
        return list(cursor.limit(limit))

    def next_queued(self, limit):
        """Up to `limit` queued emails, the longest waiting first, near enough:
        no sort, so the read stops at the `limit`th (FerretDB returns them in
        insertion order; a sort would read every queued email, 35,000 while a
        national release goes out)."""
        return list(self.col.find({"state": EmailState.QUEUED}, LISTED).limit(limit))

    # Plain updates: each records what a uniquely keyed insert (the attempt
    # claim) already decided.
    def mark_retry(self, email_id, next_attempt_at, error, attempts):
        self.col.update_one(
            {"_id": email_id},
            {
                "$set": {
                    "state": EmailState.QUEUED,
                    "attempts": attempts,
                    "next_attempt_at": next_attempt_at,
                    "last_error": error,
                }
            },
        )
        self.queue.schedule(email_id, next_attempt_at)

    # The email's new state first, then the marker goes: a crash between leaves
    # a marker of a sent/failed email, which `due` drops.
    def mark_sent(self, email_id, attempt, now):
        self.mark_sent_many([({"_id": email_id}, attempt)], now)

    def mark_sent_many(self, sent, now):
        """[(email, attempt)] sent: the emails, then their markers; those of one
        queue batch and attempt in one update and one delete, the others in bulk."""
        groups = {}
        for email, attempt in sent:
            groups.setdefault((email.get("queue_batch"), attempt), []).append(email["_id"])
        alone = []
        for (queue_batch, attempt), ids in groups.items():
            fields = _sent_fields(attempt, now)
            if queue_batch is None or len(ids) == 1:
                alone.extend((email_id, fields) for email_id in ids)
                continue
            self.col.update_many({"queue_batch": queue_batch, "_id": {"$in": ids}}, {"$set": fields})
            self.queue.remove_many(ids, queue_batch)
        if alone:
            update_in_bulks(self.col, [UpdateOne({"_id": email_id}, {"$set": f}) for email_id, f in alone])
            self.queue.remove_many([email_id for email_id, _ in alone])

    def mark_failed(self, email_id, attempt, error, now):
        self.col.update_one(
            {"_id": email_id},
            {
                "$set": {
                    "state": EmailState.FAILED,
                    "attempts": attempt,
                    "last_error": error,
                    "failed_at": now,
                    "next_attempt_at": None,
                }
            },
        )
        self.queue.remove(email_id)

    def requeue(self, email, now, extra_attempts, by=None):
        """An organiser's resend of a failed email: a fresh budget of attempts.
        False when the email is not failed (any more): one conditional update
        decides (our FerretDB build finds {_id, state} by the _id index)."""
        # Marker first (as insert_new); a crash before the update leaves the email
        # failed, to be resent again, and an orphan marker that `due` drops.
        self.queue.put(email["_id"], now, reschedule=True)
        result = self.col.update_one(
            {"_id": email["_id"], "state": EmailState.FAILED},
            {
                "$set": {
                    "state": EmailState.QUEUED,
                    "next_attempt_at": now,
                    "max_attempts": email.get("attempts", 0) + extra_attempts,
                    "resent_at": now,
                    "resent_by": by,
                }
            },
        )
        return result.modified_count == 1


def _sent_fields(attempt, now):
    return {
        "state": EmailState.SENT,
        "attempts": attempt,
        "sent_at": now,
        "last_error": None,
        "next_attempt_at": None,
    }


class AttemptRepository:
    """`<email id>:<attempt>`: the insert that succeeds owns that send attempt."""

    def __init__(self, db):
        self.col = db[SEND_ATTEMPTS]

    def claim(self, email_id, attempt, owner, now):
        try:
            self.col.insert_one(
                {"_id": f"{email_id}:{attempt}", "email_id": email_id, "owner": owner, "claimed_at": now}
            )
            return True
        except DuplicateKeyError:
            return False

    def claim_many(self, wanted, owner, now):
        """`claim` for [(email id, attempt)] in one round trip (an unordered
        insert_many: each insert still decides alone); the set of pairs won."""
        docs = [
            {"_id": f"{email_id}:{attempt}", "email_id": email_id, "owner": owner, "claimed_at": now}
            for email_id, attempt in wanted
        ]
        lost = insert_new(self.col, docs)
        return {pair for n, pair in enumerate(wanted) if n not in lost}

    def get(self, email_id, attempt):
        return self.col.find_one({"_id": f"{email_id}:{attempt}"})

    def renew(self, attempts, owner, now):
        """The owner's attempts still in progress, [(email id, attempt)]: their
        leases start again at `now`, in one update (a batch's tail renewed one
        by one could lapse while its head is being renewed: the fault suite's
        1 s lease with two replicas). On FerretDB `_id: {$in}` is a scan of the
        collection, once per beat (a third of the lease); MongoDB uses `_id`."""
        ids = [f"{email_id}:{attempt}" for email_id, attempt in attempts]
        if ids:
            self.col.update_many(
                {"_id": {"$in": ids}, "owner": owner, "outcome": {"$exists": False}},
                {"$set": {"claimed_at": now}},
            )

    def record_outcome(self, email_id, attempt, outcome, error=None):
        self.col.update_one(
            {"_id": f"{email_id}:{attempt}"},
            {"$set": {"outcome": outcome, "error": error, "ended_at": utcnow()}},
        )


class ReleaseRepository:
    def __init__(self, db):
        self.col = db[RELEASES]

    def mark(self, year, data):
        try:
            self.col.insert_one(
                {
                    "_id": str(year),
                    "released_at": data["released_at"],
                    "event_id": data["event_id"],
                    "recorded_at": utcnow(),
                }
            )
        except DuplicateKeyError:
            pass

    def is_released(self, year):
        return self.col.find_one({"_id": str(year)}, {"_id": 1}) is not None


class HeldAwardRepository:
    """award_decided events seen before their campaign's results_released."""

    def __init__(self, db):
        self.col = db[HELD_AWARDS]

    def hold_many(self, year, awards):
        now = utcnow()
        insert_new(
            self.col,
            [
                {"_id": f"{year}:{data['event_id']}", "campaign_year": year, "payload": data, "held_at": now}
                for data in awards
            ],
        )

    def for_year(self, year):
        return [doc["payload"] for doc in self.col.find({"campaign_year": year})]


class CampaignRepository:
    def __init__(self, db):
        self.col = db[CAMPAIGNS]

    def save(self, year, fields):
        self.col.update_one({"_id": str(year)}, {"$set": fields}, upsert=True)

    def get(self, year):
        return self.col.find_one({"_id": str(year)})


class Repositories:
    def __init__(self, db):
        self.emails = EmailRepository(db)
        self.attempts = AttemptRepository(db)
        self.releases = ReleaseRepository(db)
        self.held_awards = HeldAwardRepository(db)
        self.campaigns = CampaignRepository(db)
        self.tallies = Tallies(db)
        self._db = db

    def decided(self, step_key):
        """Whether the ledger step `step_key` (ledger.record) was decided."""
        return find_step(self._db, step_key) is not None
