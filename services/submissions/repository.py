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

    def unconfirmed(self, limit=100):
        """Sign-ups still waiting for their address's confirmation (a scan: a timer's, not a request's)."""
        return list(self.collection.find({"confirm_by": {"$ne": None}}).limit(limit))

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

    def page_of_campaign(self, year, state, after, limit):
        """By _id ("<year>:<collectivite>"), those after `after`: a range read, not a skip."""
        query = {"campaign_year": year, "_id": {"$gt": after or ""}}
        if state:
            query["state"] = state
        return list(self.collection.find(query).sort("_id", ASCENDING).limit(limit))

    def count(self, year, state):
        return self.collection.count_documents({"campaign_year": year, "state": state})
