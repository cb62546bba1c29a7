"""One small class per collection of the notifications database."""
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.common.clock import utcnow
from services.common.ledger import CHANGES, ensure_ledger_indexes

EMAILS = "emails"
SEND_ATTEMPTS = "send_attempts"
RELEASES = "releases"
HELD_AWARDS = "held_awards"
CAMPAIGNS = "campaigns"


def ensure_indexes(db):
    ensure_ledger_indexes(db)
    # Used by real MongoDB; FerretDB/SQLite scans anyway (only _id is pushed down).
    db[EMAILS].create_index([("state", ASCENDING), ("next_attempt_at", ASCENDING)])
    db[EMAILS].create_index([("created_at", DESCENDING)])
    db[HELD_AWARDS].create_index([("campaign_year", ASCENDING)])


class EmailRepository:
    def __init__(self, db):
        self.col = db[EMAILS]

    def insert_new(self, doc):
        """False when this email (same event, template, recipient) already exists."""
        try:
            self.col.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    def get(self, email_id):
        return self.col.find_one({"_id": email_id})

    def due(self, now, limit):
        return list(self.col.find({"state": "queued", "next_attempt_at": {"$lte": now}})
                    .sort("next_attempt_at", ASCENDING).limit(limit))

    def next_due_at(self):
        doc = self.col.find_one({"state": "queued"}, {"next_attempt_at": 1}, sort=[("next_attempt_at", ASCENDING)])
        return doc and doc.get("next_attempt_at")

    def listing(self, state=None, limit=500):
        query = {"state": state} if state else {}
        projection = {"text": 0, "html": 0}
        return list(self.col.find(query, projection).sort("created_at", DESCENDING).limit(limit))

    def count(self, state=None):
        return self.col.count_documents({"state": state} if state else {})

    # Plain updates: each records what a uniquely keyed insert (the attempt
    # claim) already decided.
    def mark_retry(self, email_id, next_attempt_at, error, attempts):
        self.col.update_one({"_id": email_id}, {"$set": {
            "state": "queued", "attempts": attempts, "next_attempt_at": next_attempt_at, "last_error": error}})

    def mark_sent(self, email_id, attempt, now):
        self.col.update_one({"_id": email_id}, {"$set": {
            "state": "sent", "attempts": attempt, "sent_at": now, "last_error": None, "next_attempt_at": None}})

    def mark_failed(self, email_id, attempt, error, now):
        self.col.update_one({"_id": email_id}, {"$set": {
            "state": "failed", "attempts": attempt, "last_error": error, "failed_at": now, "next_attempt_at": None}})

    def requeue(self, email, now, extra_attempts):
        """An organiser's resend of a failed email: a fresh budget of attempts."""
        self.col.update_one({"_id": email["_id"], "state": "failed"}, {"$set": {
            "state": "queued", "next_attempt_at": now, "max_attempts": email.get("attempts", 0) + extra_attempts,
            "resent_at": now}})


class AttemptRepository:
    """`<email id>:<attempt>`: the insert that succeeds owns that send attempt."""

    def __init__(self, db):
        self.col = db[SEND_ATTEMPTS]

    def claim(self, email_id, attempt, owner, now):
        try:
            self.col.insert_one({"_id": f"{email_id}:{attempt}", "email_id": email_id,
                                 "owner": owner, "claimed_at": now})
            return True
        except DuplicateKeyError:
            return False

    def claim_many(self, keys, owner, now):
        """Claim (email id, attempt) pairs in one insert_many; returns the pairs already taken."""
        docs = [{"_id": f"{email_id}:{attempt}", "email_id": email_id, "owner": owner, "claimed_at": now}
                for email_id, attempt in keys]
        if not docs:
            return set()
        try:
            self.col.insert_many(docs, ordered=False)
            return set()
        except BulkWriteError as exc:
            dup = [err["index"] for err in exc.details.get("writeErrors", []) if err.get("code") == 11000]
            other = [err for err in exc.details.get("writeErrors", []) if err.get("code") != 11000]
            if other:
                raise
            return {tuple(keys[i]) for i in dup}

    def get(self, email_id, attempt):
        return self.col.find_one({"_id": f"{email_id}:{attempt}"})

    def record_outcome(self, email_id, attempt, outcome, error=None):
        self.col.update_one({"_id": f"{email_id}:{attempt}"},
                            {"$set": {"outcome": outcome, "error": error, "ended_at": utcnow()}})


class ReleaseRepository:
    def __init__(self, db):
        self.col = db[RELEASES]

    def mark(self, year, data):
        try:
            self.col.insert_one({"_id": str(year), "released_at": data["released_at"],
                                 "event_id": data["event_id"], "recorded_at": utcnow()})
        except DuplicateKeyError:
            pass

    def is_released(self, year):
        return self.col.find_one({"_id": str(year)}, {"_id": 1}) is not None


class HeldAwardRepository:
    """award_decided events seen before their campaign's results_released."""

    def __init__(self, db):
        self.col = db[HELD_AWARDS]

    def hold(self, year, data):
        try:
            self.col.insert_one({"_id": f"{year}:{data['event_id']}", "campaign_year": year,
                                 "payload": data, "held_at": utcnow()})
        except DuplicateKeyError:
            pass

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
        self._changes = db[CHANGES]

    def decided(self, step_key):
        """Whether the ledger step `step_key` (ledger.record) was decided."""
        return self._changes.find_one({"_id": f"steps:{step_key}:1"}, {"_id": 1}) is not None
