"""Event payloads and an in-memory stand-in for the notifications repositories."""

import itertools

from services.notifications.settings import NotificationsSettings
from tests.support.config import service_config

_ids = itertools.count(1)

BESANCON = {
    "id": "col-25056",
    "insee_code": "25056",
    "name": "Besançon",
    "kind": "commune",
    "category": "ville",
    "department": "25",
    "region": "Bourgogne-Franche-Comté",
    "population": 119000,
    "email": "numerique@besancon.fr",
    "member_communes": [],
}
CONFIG = service_config(
    SMTP_FROM="Villes Internet <label@villes-internet.net>",
    PUBLIC_BASE_URL="https://label.example.fr",
    ORGANISER_EMAILS="orga@villes-internet.net, jury@villes-internet.net",
)
SETTINGS = NotificationsSettings.from_config(CONFIG)


def envelope(event, **payload):
    return dict(payload, event_id=f"ev-{next(_ids)}", event=event, occurred_at="2017-06-01T10:00:00+00:00")


def award(year=2017, collectivite=BESANCON, arobases=4, progression="gained", previous=3, previous_year=2016):
    return envelope(
        "award_decided",
        campaign_year=year,
        application_id=f"app-{year}-25056",
        collectivite=collectivite,
        arobases=arobases,
        mentions=[{"code": "gouvernement_ouvert", "label": "Gouvernement ouvert"}],
        progression=progression,
        previous_arobases=previous,
        previous_year=previous_year,
        ceremony_at="2017-12-12T17:00:00+00:00",
        ceremony_place="Lille Grand Palais",
    )


def released(year=2017):
    return envelope(
        "results_released",
        campaign_year=year,
        released_at="2017-12-12T18:00:00+00:00",
        released_by="admin",
        labelled_count=331,
        pending=[],
    )


class _Emails:
    def __init__(self):
        self.docs = {}

    def insert_new(self, doc):
        if doc["_id"] in self.docs:
            return False
        self.docs[doc["_id"]] = dict(doc)
        return True

    def insert_new_many(self, docs):
        return [doc for doc in docs if self.insert_new(doc)]

    def get(self, email_id):
        return self.docs.get(email_id)


class _Releases:
    def __init__(self):
        self.years = set()

    def mark(self, year, data):
        self.years.add(year)

    def is_released(self, year):
        return year in self.years


class _Held:
    def __init__(self):
        self.docs = {}

    def hold_many(self, year, awards):
        for data in awards:
            self.docs.setdefault(f"{year}:{data['event_id']}", (year, data))

    def for_year(self, year):
        return [data for y, data in self.docs.values() if y == year]


class _Campaigns:
    def __init__(self):
        self.docs = {}

    def save(self, year, fields):
        self.docs.setdefault(year, {}).update(fields)

    def get(self, year):
        return self.docs.get(year)


class FakeRepos:
    def __init__(self):
        self.emails = _Emails()
        self.releases = _Releases()
        self.held_awards = _Held()
        self.campaigns = _Campaigns()
