"""The gateway's own database (DESIGN.md: the gateway owns accounts): sign-in
links and web sessions. One small class per collection; each document is
keyed by the SHA-256 of its secret, so the database never holds a usable link
or session token."""

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

SIGN_IN_LINKS = "sign_in_links"
SIGN_IN_USES = "sign_in_uses"
SESSIONS = "sessions"
ORGANISERS = "organisers"
REVOCATIONS = "revocations"
REPLAYS = "dead_letter_replays"
API_TOKENS = "api_tokens"
RATE_SLOTS = "rate_slots"
TOKEN_REVOCATIONS = "token_revocations"
TOKEN_FLOORS = "token_floors"


def ensure_indexes(db):
    # Records are read by `_id` only; an expired one is refused when read.
    # (No TTL index: FerretDB v1 has none.)
    db[SESSIONS].create_index([("subject", ASCENDING)])
    db[API_TOKENS].create_index([("subject", ASCENDING)])


class SignInLinks:
    def __init__(self, db):
        self.collection = db[SIGN_IN_LINKS]
        self.uses = db[SIGN_IN_USES]

    def add(self, link):
        self.collection.insert_one(link)

    def get(self, link_id):
        return self.collection.find_one({"_id": link_id})

    def use(self, link):
        """True for the one caller whose insert marks the link used."""
        try:
            self.uses.insert_one({"_id": link["_id"], "expires_at": link["expires_at"]})
            return True
        except DuplicateKeyError:
            return False


class Sessions:
    def __init__(self, db):
        self.collection = db[SESSIONS]

    def add(self, session):
        self.collection.insert_one(session)

    def get(self, session_id):
        return self.collection.find_one({"_id": session_id})

    def end(self, session_id):
        self.collection.delete_one({"_id": session_id})

    def end_all(self, role, subject):
        """Every session of one person (an organiser's decision, a revocation)."""
        return self.collection.delete_many({"role": role, "subject": subject}).deleted_count


class Organisers:
    """Organisers are people: `_id` is their address in lower case."""

    def __init__(self, db):
        self.collection = db[ORGANISERS]

    def add(self, organiser):
        try:
            self.collection.insert_one(organiser)
            return True
        except DuplicateKeyError:
            return False

    def get(self, organiser_id):
        return self.collection.find_one({"_id": organiser_id})

    def all(self, limit=500):
        return list(self.collection.find({}).sort("name", ASCENDING).limit(limit))

    def any(self):
        return self.collection.find_one({}, {"_id": 1}) is not None


class Revocations:
    """`<role>:<subject>`: an account an organiser revoked; its tokens and links open nothing."""

    def __init__(self, db):
        self.collection = db[REVOCATIONS]

    def revoke(self, role, subject, by, at):
        try:
            self.collection.insert_one(
                {"_id": f"{role}:{subject}", "role": role, "subject": subject, "by": by, "at": at}
            )
        except DuplicateKeyError:
            pass  # revoked already

    def is_revoked(self, role, subject):
        return self.collection.find_one({"_id": f"{role}:{subject}"}, {"_id": 1}) is not None

    def all(self, limit=500):
        return list(self.collection.find({}).limit(limit))

    def subjects(self, role, limit=5000):
        """The revoked accounts of one role (a list page's, read once, not one by one)."""
        return {doc["subject"] for doc in self.collection.find({"role": role}, {"subject": 1}).limit(limit)}


class Replays:
    """Who replayed dead letters, when, and how many."""

    def __init__(self, db):
        self.collection = db[REPLAYS]

    def record(self, by, at, count):
        self.collection.insert_one({"by": by, "at": at, "count": count})

    def recent(self, limit=10):
        return list(self.collection.find({}).sort("at", -1).limit(limit))


class ApiTokens:
    """An organiser's personal API tokens (scripts, labelctl), keyed by the
    SHA-256 of the token: the token itself is shown once, never stored."""

    def __init__(self, db):
        self.collection = db[API_TOKENS]

    def add(self, doc):
        self.collection.insert_one(doc)

    def get(self, token_hash):
        return self.collection.find_one({"_id": token_hash})

    def of(self, subject, limit=100):
        return list(self.collection.find({"subject": subject}).limit(limit))

    def revoke(self, subject, token_id, at):
        """By its public id, only among the subject's own tokens."""
        doc = self.collection.find_one({"subject": subject, "id": token_id})
        if doc is None:
            return False
        self.collection.update_one({"_id": doc["_id"]}, {"$set": {"revoked_at": at}})
        return True


class RateSlots:
    """The rate limiter's slots (services/gateway/ratelimit.py): one uniquely keyed insert each."""

    def __init__(self, db):
        self.collection = db[RATE_SLOTS]

    def take(self, slot_id, expires_at):
        try:
            self.collection.insert_one({"_id": slot_id, "expires_at": expires_at})
            return True
        except DuplicateKeyError:
            return False

    def taken(self, slot_id):
        return self.collection.find_one({"_id": slot_id}, {"_id": 1}) is not None

    def purge(self, now):
        """Slots of windows that ended (no TTL index in FerretDB v1)."""
        return self.collection.delete_many({"expires_at": {"$lte": now}}).deleted_count


class TokenRevocations:
    """Bearer tokens revoked one by one, keyed by the token's id (never the token)."""

    def __init__(self, db):
        self.collection = db[TOKEN_REVOCATIONS]

    def revoke(self, token_id, role, subject, by, at, expires_at):
        try:
            self.collection.insert_one(
                {
                    "_id": token_id,
                    "role": role,
                    "subject": subject,
                    "by": by,
                    "at": at,
                    "expires_at": expires_at,
                }
            )
        except DuplicateKeyError:
            pass  # revoked already

    def is_revoked(self, token_id):
        return self.collection.find_one({"_id": token_id}, {"_id": 1}) is not None


class TokenFloors:
    """`<role>:<subject>`: tokens of this account issued before `not_before_ms`
    open nothing (its address was handed to someone else)."""

    def __init__(self, db):
        self.collection = db[TOKEN_FLOORS]

    def raise_to(self, role, subject, not_before_ms, by, at):
        self.collection.replace_one(
            {"_id": f"{role}:{subject}"},
            {"not_before_ms": not_before_ms, "by": by, "at": at},
            upsert=True,
        )

    def refuses(self, role, subject, issued_ms):
        floor = self.collection.find_one({"_id": f"{role}:{subject}"})
        return floor is not None and issued_ms < floor["not_before_ms"]
