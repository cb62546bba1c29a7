"""The gateway's own database (DESIGN.md: the gateway owns accounts): sign-in
links and web sessions. One small class per collection; each document is
keyed by the SHA-256 of its secret, so the database never holds a usable link
or session token."""

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

SIGN_IN_LINKS = "sign_in_links"
SIGN_IN_USES = "sign_in_uses"
SESSIONS = "sessions"


def ensure_indexes(db):
    # Records are read by `_id` only; an expired one is refused when read.
    # (No TTL index: FerretDB v1 has none.)
    db[SESSIONS].create_index([("subject", ASCENDING)])


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
