"""SubmissionsService in a nameko container against the real RabbitMQ and
FerretDB, with probe consumers standing in for jury and notifications: the
events leave through the ledger, exactly once, even across a crash between the
decision and the publish."""

from datetime import timedelta

import pytest
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from services.common import contracts, topology
from services.common.clock import isoformat, utcnow
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.inbox import Inbox, consumes
from services.common.ledger import Ledger, find_step
from services.common.mongo import make_client
from services.common.relay import Outbox, OutboxSession
from services.submissions.logic import Submissions
from services.submissions.service import SubmissionsService
from services.submissions.settings import SubmissionsSettings
from tests.support.api import wait_until
from tests.support.config import service_config

RECEIVED = []


class ProbeJury:
    name = "jury"
    inbox = Inbox("jury")

    @consumes(contracts.APPLICATION_SUBMITTED)
    def on_application_submitted(self, data):
        RECEIVED.append(
            ("submitted", data["event_id"], data["application_id"], data["collectivite"]["category"])
        )

    @consumes(contracts.APPLICATION_WITHDRAWN)
    def on_application_withdrawn(self, data):
        RECEIVED.append(("withdrawn", data["event_id"], data["application_id"]))


class ProbeNotifications:
    name = "notifications"
    inbox = Inbox("notifications")

    @consumes(contracts.COLLECTIVITE_REGISTERED)
    def on_collectivite_registered(self, data):
        RECEIVED.append(("registered", data["event_id"], data["collectivite"]["id"], sorted(data)))

    @consumes(contracts.APPLICATION_REMINDER_DUE)
    def on_application_reminder_due(self, data):
        RECEIVED.append(("reminder", data["event_id"], data["application_id"]))


class ProbeAwards:
    """The awards service as submissions asks it before a withdrawal."""

    name = "awards"
    released_years: set = set()

    @rpc
    def release_state(self, year):
        return {"year": year, "frozen": year in self.released_years}


@pytest.fixture
def config(rabbit_config, mongodb_uri, db_prefix):
    topology.declare_all(rabbit_config["AMQP_URI"])
    RECEIVED.clear()
    return service_config(
        rabbit_config,
        MONGODB_URI=mongodb_uri,
        MONGODB_DATABASE_PREFIX=db_prefix,
        LABEL_SECRET_KEY="integration-secret",
        OUTBOX_SWEEP_SECONDS=0.5,
        INBOX_MAX_ATTEMPTS=3,
        INBOX_BACKOFF_SECONDS=0.05,
        REMINDER_DAYS_BEFORE_DEADLINE=7,
    )


@pytest.fixture
def running(container_factory, config):
    service = container_factory(SubmissionsService, config)
    jury = container_factory(ProbeJury, config)
    notifications = container_factory(ProbeNotifications, config)
    awards = container_factory(ProbeAwards, config)
    for container in (service, jury, notifications, awards):
        container.start()
    return service, jury, notifications


def database(config, service="submissions"):
    return make_client(config["MONGODB_URI"])[f"{config['MONGODB_DATABASE_PREFIX']}{service}"]


def campaign(year, close_in=timedelta(days=30), **over):
    now = utcnow()
    data = {
        "year": year,
        "title": f"Label {year}",
        "submissions_open_at": isoformat(now - timedelta(days=1)),
        "submissions_close_at": isoformat(now + close_in),
        "ceremony_at": isoformat(now + timedelta(days=90)),
        "ceremony_place": "Lille",
    }
    data.update(over)
    return data


def commune(insee, population, **over):
    data = {
        "insee_code": insee,
        "name": f"Commune {insee}",
        "kind": "commune",
        "population": population,
        "region": "Bourgogne-Franche-Comté",
        "department": insee[:2],
        "email": f"mairie-{insee}@example.fr",
    }
    data.update(over)
    return data


def test_sign_up_apply_submit_withdraw_each_event_once(running, config):
    service, jury, notifications = running
    with ServiceRpcProxy("submissions", config) as rpc:
        created = rpc.create_campaign(campaign(2101))
        assert created["state"] == "open" and len(created["grid"]["enjeux"]) == 16
        with entrypoint_waiter(notifications, "on_collectivite_registered"):
            signed = rpc.register_collectivite(commune("25901", 3500), True)
        assert signed["category"] == "village" and signed["id"] == "25901"
        with pytest.raises(Conflict):
            rpc.register_collectivite(commune("25901", 3500), True)
        application = rpc.create_application(
            "25901",
            {
                "campaign_year": 2101,
                "services": ["acces-wifi-public-gratuit"],
                "initiatives": [{"title": "Wifi au marché", "enjeu": "acces", "description": "Bornes wifi."}],
            },
        )
        assert application["state"] == "draft"
        with pytest.raises(ValidationFailed) as info:
            rpc.update_application(application["id"], "collectivite", "25901", {"services": ["inconnu"]})
        assert set(info.value.fields) == {"services.0"}
        with pytest.raises(NotFound):
            rpc.get_application(application["id"], "collectivite", "25902")
        with entrypoint_waiter(jury, "on_application_submitted"):
            assert rpc.submit_application(application["id"], "collectivite", "25901")["state"] == "submitted"
        with pytest.raises(Conflict):
            rpc.submit_application(application["id"], "collectivite", "25901")
        with entrypoint_waiter(jury, "on_application_withdrawn"):
            assert (
                rpc.withdraw_application(application["id"], "collectivite", "25901")["state"] == "withdrawn"
            )

    kinds = [item[0] for item in RECEIVED]
    assert kinds == ["registered", "submitted", "withdrawn"]
    assert RECEIVED[1][3] == "village"
    assert "access_token" not in RECEIVED[0][3]  # a token never travels in an event (ledger, dead letters)


def test_crash_between_decision_and_publish_delivers_once(running, config, monkeypatch):
    """The process dies right after the ledger decided the submission (as with
    FAULT_CRASH_AFTER_DECIDE=application_submitted); the running service's sweep
    rolls it forward and publishes it once; a retried submit gets a 409."""
    service, jury, notifications = running
    with ServiceRpcProxy("submissions", config) as rpc:
        rpc.create_campaign(campaign(2102))
        rpc.register_collectivite(commune("25903", 12000), True)
        application = rpc.create_application("25903", {"campaign_year": 2102})

    class Crash(BaseException):
        pass

    def die(code):
        raise Crash(code)

    db = database(config)
    monkeypatch.setattr("services.common.ledger.os._exit", die)
    crashing = Submissions(
        db,
        OutboxSession(Ledger(db, crash_after_decide="application_submitted"), None),
        SubmissionsSettings.from_config(config),
        utcnow(),
    )
    with entrypoint_waiter(jury, "on_application_submitted", timeout=20):
        with pytest.raises(Crash):
            crashing.submit_application(application["id"], "collectivite", "25903")
        assert db["applications"].find_one({"_id": application["id"]})["state"] == "draft"

    assert db["applications"].find_one({"_id": application["id"]})["state"] == "submitted"
    change_id = f"applications:{application['id']}:2"
    assert db["changes"].find_one({"_id": change_id}) is not None
    assert wait_until(lambda: not Ledger(db).is_pending(change_id))
    with ServiceRpcProxy("submissions", config) as rpc:
        with pytest.raises(Conflict):
            rpc.submit_application(application["id"], "collectivite", "25903")
    # Drive the sweep rather than sleep through a few: it finds nothing left to publish.
    outbox = next(d for d in service.dependencies if isinstance(d, Outbox))
    assert outbox.relay.sweep() == 0
    assert [item for item in RECEIVED if item[0] == "submitted"] == [
        ("submitted", f"{change_id}:0", application["id"], "ville")
    ]


def test_reminder_once_per_draft_and_submissions_closed_once(running, config):
    service, jury, notifications = running
    with ServiceRpcProxy("submissions", config) as rpc:
        rpc.create_campaign(campaign(2103, close_in=timedelta(days=3)))
        rpc.create_campaign(campaign(2104, close_in=timedelta(seconds=6)))
        rpc.register_collectivite(commune("25904", 800), True)
        draft = rpc.create_application("25904", {"campaign_year": 2103})
        submitted = rpc.create_application("25904", {"campaign_year": 2104})
        rpc.submit_application(submitted["id"], "collectivite", "25904")

    with entrypoint_waiter(notifications, "on_application_reminder_due"):
        with entrypoint_hook(service, "remind_drafts") as remind:
            assert remind() == 1
    with entrypoint_hook(service, "remind_drafts") as remind:
        assert remind() == 0
    assert [item[2] for item in RECEIVED if item[0] == "reminder"] == [draft["id"]]

    db = database(config)
    assert wait_until(lambda: find_step(db, "closed:2104") is not None, timeout=25)
    closed = find_step(db, "closed:2104")
    assert closed["events"][0]["payload"]["submitted_count"] == 1
    with entrypoint_hook(service, "close_submissions") as close:
        assert 2103 not in close()
    assert db["changes"].count_documents({"doc_id": "closed:2104"}) == 1


def test_results_released_marks_the_campaign_and_blocks_withdrawal(running, config):
    service, jury, notifications = running
    with ServiceRpcProxy("submissions", config) as rpc:
        rpc.create_campaign(campaign(2105))
        rpc.register_collectivite(commune("25905", 5000), True)
        application = rpc.create_application("25905", {"campaign_year": 2105})
        rpc.submit_application(application["id"], "collectivite", "25905")
        payload = {
            "event_id": "awards:test:1",
            "event": "results_released",
            "occurred_at": isoformat(utcnow()),
            "campaign_year": 2105,
            "released_at": isoformat(utcnow()),
            "released_by": "admin",
            "labelled_count": 1,
        }
        with entrypoint_hook(service, "on_results_released") as handle:
            handle(payload)
            handle(payload)  # a redelivery changes nothing
        assert rpc.get_campaign(2105)["state"] == "released"
        with pytest.raises(Conflict) as info:
            rpc.withdraw_application(application["id"], "collectivite", "25905")
        assert info.value.code == "results_released"


def test_submission_before_the_window_opens_is_refused(running, config):
    future = utcnow() + timedelta(days=2)
    with ServiceRpcProxy("submissions", config) as rpc:
        created = rpc.create_campaign(campaign(2106, submissions_open_at=isoformat(future)))
        assert created["state"] == "open" and created["accepting_submissions"] is False
        rpc.register_collectivite(commune("25906", 2000), True)
        draft = rpc.create_application("25906", {"campaign_year": 2106})  # drafts may be prepared early
        with pytest.raises(Conflict) as info:
            rpc.submit_application(draft["id"], "collectivite", "25906")
        assert info.value.code == "submissions_not_open"
        assert rpc.get_application(draft["id"], "organiser", "admin")["state"] == "draft"
