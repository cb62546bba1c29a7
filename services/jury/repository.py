"""One small class per collection of the jury database (pymongo).

Documents the ledger versions (jurors, applications, tasks) are written
through the outbox; these classes read them, and own the small guard
collections whose uniquely keyed inserts decide exclusive steps.
"""
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.common.ledger import ensure_ledger_indexes

# The task list of a claim carries no review bodies (they can be long).
_TASK_SUMMARY = {"review": 0}


def ensure_indexes(db):
    ensure_ledger_indexes(db)
    # Used by a real MongoDB (FerretDB on SQLite only pushes `_id` lookups down).
    db["tasks"].create_index([("campaign_year", ASCENDING)])
    db["applications"].create_index([("campaign_year", ASCENDING)])


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


class Applications:
    """Per submitted application: what its review needs, and its consolidation."""

    def __init__(self, db):
        self.collection = db["applications"]

    def get(self, app_id):
        return self.collection.find_one({"_id": app_id})

    def of_campaign(self, year):
        return list(self.collection.find({"campaign_year": year}))


class Tasks:
    """Review tasks, `_id` `<application id>:<n>`."""

    def __init__(self, db):
        self.collection = db["tasks"]

    def get(self, task_id):
        return self.collection.find_one({"_id": task_id})

    def of_campaign(self, year, with_reviews=False):
        # On FerretDB/SQLite this filter scans the collection (see bench_claims.py).
        return list(self.collection.find({"campaign_year": year}, None if with_reviews else _TASK_SUMMARY))

    def all(self):
        return list(self.collection.find({}, _TASK_SUMMARY))

    def claimable_candidates(self):
        return list(self.collection.find({"state": {"$in": ["open", "claimed"]}}, _TASK_SUMMARY))


class Assignments:
    """`<juror>:<application>`: a juror holds (or held) a task of that application.
    Also `email:<address>`: one juror per e-mail address."""

    def __init__(self, db):
        self.collection = db["assignments"]

    def reserve(self, juror_id, app_id, nonce, now):
        try:
            self.collection.insert_one({"_id": f"{juror_id}:{app_id}", "juror_id": juror_id,
                                        "application_id": app_id, "nonce": nonce, "at": now})
            return True
        except DuplicateKeyError:
            return False

    def unreserve(self, juror_id, app_id, nonce):
        # Only the attempt that reserved it may undo it.
        self.collection.delete_one({"_id": f"{juror_id}:{app_id}", "nonce": nonce})

    def release(self, juror_id, app_id):
        self.collection.delete_one({"_id": f"{juror_id}:{app_id}"})

    def applications_of(self, juror_id):
        return {doc["application_id"] for doc in self.collection.find({"juror_id": juror_id}, {"application_id": 1})}

    def by_juror(self):
        result = {}
        for doc in self.collection.find({"juror_id": {"$exists": True}}, {"juror_id": 1, "application_id": 1}):
            result.setdefault(doc["juror_id"], set()).add(doc["application_id"])
        return result

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

    def reserve(self, app_id, task_id, version):
        try:
            self.collection.insert_one({"_id": app_id, "task_id": task_id, "version": version})
            return True
        except DuplicateKeyError:
            return False

    def unreserve(self, app_id, task_id, version):
        self.collection.delete_one({"_id": app_id, "task_id": task_id, "version": version})


class Digests:
    """`<juror>:<year>`: the newest task time covered by the juror's last digest."""

    def __init__(self, db):
        self.collection = db["digests"]

    def watermark(self, juror_id, year):
        doc = self.collection.find_one({"_id": f"{juror_id}:{year}"})
        return doc["newest"] if doc else None

    def set_watermark(self, juror_id, year, newest):
        self.collection.update_one({"_id": f"{juror_id}:{year}"}, {"$set": {"newest": newest}}, upsert=True)


class Repositories:
    def __init__(self, db):
        self.jurors = Jurors(db)
        self.campaigns = Campaigns(db)
        self.applications = Applications(db)
        self.tasks = Tasks(db)
        self.assignments = Assignments(db)
        self.review_starts = ReviewStarts(db)
        self.digests = Digests(db)
