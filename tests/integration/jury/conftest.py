"""The jury service and the gateway in nameko containers (real RabbitMQ and
FerretDB, real HTTP); `application_submitted` events are fed the way the
submissions service publishes them (nameko's standalone dispatcher)."""

import uuid

import pytest
import requests
from nameko.standalone.events import event_dispatcher

from services.common import contracts, topology
from services.common.mongo import make_client
from services.gateway.app import GatewayService
from services.jury.service import JuryService
from tests.support.config import service_config
from tests.support.net import free_port

ENJEUX = ["acces", "communication", "culture"]
MENTIONS = ["teletravail", "accessibilite", "gouvernement_ouvert"]


def collectivite(insee, department, name=None):
    return {
        "id": f"col-{insee}",
        "insee_code": insee,
        "name": name or f"Commune {insee}",
        "kind": "commune",
        "category": "ville",
        "department": department,
        "region": "Grand Est",
        "population": 12000,
        "email": f"mairie-{insee}@example.org",
        "member_communes": [],
    }


class JuryHarness:
    def __init__(self, config, jury, gateway):
        self.config = config
        self.jury = jury
        self.gateway = gateway
        self.base_url = f"http://{config['WEB_SERVER_ADDRESS']}"
        self.admin = config["LABEL_ADMIN_TOKEN"]
        self.session = requests.Session()
        self.db = make_client(config["MONGODB_URI"])[f"{config['MONGODB_DATABASE_PREFIX']}jury"]
        self._dispatch = event_dispatcher(config)

    def http(self, method, path, token=None, json=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.request(method, self.base_url + path, headers=headers, json=json, timeout=30)

    def juror(self, department, conflicts=(), name=None):
        response = self.http(
            "POST",
            "/api/v1/jurors",
            self.admin,
            {
                "name": name or f"Juré {department}",
                "email": f"jure-{uuid.uuid4().hex[:8]}@example.org",
                "department": department,
                "conflicts": list(conflicts),
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    def submit(self, year, insee, department, reviews=2, app_id=None, event_id=None):
        """Publish application_submitted as submissions would; returns the payload."""
        app_id = app_id or f"app-{year}-{insee}"
        payload = {
            "event_id": event_id or f"applications:{app_id}:2:0",
            "event": "application_submitted",
            "occurred_at": "2201-03-01T10:00:00+00:00",
            "application_id": app_id,
            "campaign_year": year,
            "collectivite": collectivite(insee, department),
            "services": ["s1"],
            "initiatives": [{"title": "Wifi public", "enjeu": "acces", "description": "…"}],
            "reviews_per_application": reviews,
            "enjeux": ENJEUX,
            "mentions": MENTIONS,
            "submitted_at": "2201-03-01T10:00:00+00:00",
        }
        self._dispatch(contracts.SUBMISSIONS, "application_submitted", payload)
        return payload

    def withdraw(self, payload):
        self._dispatch(
            contracts.SUBMISSIONS,
            "application_withdrawn",
            {
                "event_id": f"applications:{payload['application_id']}:3:0",
                "event": "application_withdrawn",
                "occurred_at": "2201-03-02T10:00:00+00:00",
                "application_id": payload["application_id"],
                "campaign_year": payload["campaign_year"],
                "collectivite": payload["collectivite"],
                "withdrawn_at": "2201-03-02T10:00:00+00:00",
            },
        )

    def tasks_of(self, app_id):
        return list(self.db["tasks"].find({"application_id": app_id}))

    def events(self, name):
        return [
            event["payload"]
            for change in self.db["changes"].find({})
            for event in change["events"]
            if event["name"] == name
        ]


@pytest.fixture
def jury_config(rabbit_config, mongodb_uri, db_prefix):
    topology.declare_all(rabbit_config["AMQP_URI"])
    return service_config(
        rabbit_config,
        MONGODB_URI=mongodb_uri,
        MONGODB_DATABASE_PREFIX=db_prefix,
        OUTBOX_SWEEP_SECONDS=1,
        INBOX_MAX_ATTEMPTS=3,
        INBOX_BACKOFF_SECONDS=0.05,
        LABEL_ADMIN_TOKEN="it-admin",
        LABEL_SECRET_KEY="it-secret",
        WEB_SERVER_ADDRESS=f"127.0.0.1:{free_port()}",
        CLAIM_LEASE_HOURS=48,
        CLAIM_LEASE_SECONDS=None,
        REVIEW_DIGEST_SECONDS=3600,
        max_workers=10,
    )


@pytest.fixture
def make_harness(container_factory, mongo_client):
    made = []

    def make(config):
        jury = container_factory(JuryService, config)
        gateway = container_factory(GatewayService, config)
        jury.start()
        gateway.start()
        harness = JuryHarness(config, jury, gateway)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        mongo_client.drop_database(harness.db.name)
