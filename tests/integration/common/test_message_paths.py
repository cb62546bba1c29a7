"""The message paths of DESIGN.md against the real RabbitMQ and FerretDB:
outbox relay, idempotent consumer, dead-letter queue and replay, queues
declared before the first publish."""

import pytest
from kombu import Connection
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter

from services.common import contracts, deadletters, topology
from services.common.errors import Conflict
from services.common.inbox import Inbox, consumes, consumes_batch
from services.common.ledger import Ledger, ensure_ledger_indexes
from services.common.mongo import MongoDatabase, make_client
from services.common.relay import Outbox
from tests.support.api import wait_until
from tests.support.config import service_config

COLLECTIVITE = {
    "id": "col-besancon",
    "insee_code": "25056",
    "name": "Besançon",
    "kind": "commune",
    "category": "ville",
    "department": "25",
    "region": "Bourgogne-Franche-Comté",
    "population": 119000,
    "email": "numerique@besancon.fr",
}


def withdrawn(application_id):
    return (
        contracts.APPLICATION_WITHDRAWN,
        {
            "application_id": application_id,
            "campaign_year": 2016,
            "collectivite": COLLECTIVITE,
            "withdrawn_at": "2016-06-01T10:00:00+00:00",
        },
    )


class Producer:
    """Stands in for the submissions service: one write, one event."""

    name = "submissions"
    db = MongoDatabase("submissions", ensure_ledger_indexes)
    outbox = Outbox("submissions")

    @rpc
    def withdraw(self, application_id):
        doc = self.outbox.create("applications", {"_id": application_id, "state": "submitted"})
        doc = self.outbox.update(
            "applications", doc, {"state": "withdrawn"}, events=[withdrawn(application_id)]
        )
        return doc["version"]


HANDLED = []


class Consumer:
    """Stands in for the jury service; fails on the application called 'poison'."""

    name = "jury"
    inbox = Inbox("jury")

    @consumes(contracts.APPLICATION_WITHDRAWN)
    def on_application_withdrawn(self, data):
        HANDLED.append(data["event_id"])
        if data["application_id"].startswith("poison"):
            raise RuntimeError("cannot handle this one")


@pytest.fixture
def config(rabbit_config, mongodb_uri, db_prefix):
    topology.declare_all(rabbit_config["AMQP_URI"])
    HANDLED.clear()
    return service_config(
        rabbit_config,
        MONGODB_URI=mongodb_uri,
        MONGODB_DATABASE_PREFIX=db_prefix,
        OUTBOX_SWEEP_SECONDS=0.5,
        INBOX_MAX_ATTEMPTS=3,
        INBOX_BACKOFF_SECONDS=0.05,
    )


def database(config, service):
    return make_client(config["MONGODB_URI"])[f"{config['MONGODB_DATABASE_PREFIX']}{service}"]


def test_event_travels_once_and_a_redelivery_changes_nothing(container_factory, config):
    producer = container_factory(Producer, config)
    consumer = container_factory(Consumer, config)
    producer.start()
    consumer.start()

    with entrypoint_waiter(consumer, "on_application_withdrawn"):
        with ServiceRpcProxy("submissions", config) as proxy:
            assert proxy.withdraw("app-1") == 2

    db = database(config, "submissions")
    change = db["changes"].find_one({"_id": "applications:app-1:2"})
    assert not Ledger(db).is_pending(change["_id"])
    assert HANDLED == ["applications:app-1:2:0"]

    # The same message again (a redelivery, or the sweep re-publishing): dropped.
    payload = change["events"][0]["payload"]
    with entrypoint_waiter(consumer, "on_application_withdrawn"):
        with Connection(config["AMQP_URI"]) as connection:
            connection.Producer().publish(
                payload, exchange="submissions.events", routing_key="application_withdrawn", serializer="json"
            )
    assert HANDLED == ["applications:app-1:2:0"]
    assert database(config, "jury")["handled_events"].count_documents({}) == 1


def test_second_writer_of_the_same_version_gets_a_conflict(container_factory, config):
    producer = container_factory(Producer, config)
    producer.start()
    with ServiceRpcProxy("submissions", config) as proxy:
        proxy.withdraw("app-2")
        with pytest.raises(Conflict):
            proxy.withdraw("app-2")
    changes = database(config, "submissions")["changes"]
    # The create carries no event: the document's own insert, no change; the
    # second writer's create is refused by the document's `_id`.
    assert [c["version"] for c in changes.find({"doc_id": "app-2"})] == [2]


def test_a_crash_after_the_decision_is_rolled_forward_and_published(container_factory, config):
    """The ledger decided a change, then the process died before applying and
    publishing it: the next sweep applies it and publishes exactly once."""
    db = database(config, "submissions")
    ledger = Ledger(db)
    doc, _ = ledger.create("applications", {"_id": "app-3", "state": "submitted"})
    ledger._decide(
        "applications", "app-3", 2, {"set": {"state": "withdrawn"}}, [withdrawn("app-3")], None
    )  # decided, never applied nor published
    assert db["applications"].find_one({"_id": "app-3"})["state"] == "submitted"

    consumer = container_factory(Consumer, config)
    consumer.start()
    with entrypoint_waiter(consumer, "on_application_withdrawn", timeout=20):
        container_factory(Producer, config).start()  # its sweep finds the change

    assert db["applications"].find_one({"_id": "app-3"})["state"] == "withdrawn"
    assert wait_until(lambda: not ledger.is_pending("applications:app-3:2"))
    assert HANDLED == ["applications:app-3:2:0"]


def test_a_handler_that_keeps_failing_ends_in_the_dead_letter_queue_and_can_be_replayed(
    container_factory, config
):
    producer = container_factory(Producer, config)
    consumer = container_factory(Consumer, config)
    producer.start()
    consumer.start()
    with ServiceRpcProxy("submissions", config) as proxy:
        proxy.withdraw("poison-1")
        proxy.withdraw("app-4")  # the queue is not blocked by the poisoned message

    assert wait_until(lambda: len(deadletters.peek(config["AMQP_URI"])) == 1)
    assert "applications:app-4:2:0" in HANDLED
    assert HANDLED.count("applications:poison-1:2:0") == 3  # INBOX_MAX_ATTEMPTS
    letter = deadletters.peek(config["AMQP_URI"])[0]
    assert letter["consumer"] == "jury" and letter["event"] == "application_withdrawn"
    assert "cannot handle this one" in letter["error"]
    assert letter["payload"]["application_id"] == "poison-1"

    outcome = deadletters.replay(config["AMQP_URI"])
    assert [item["payload"]["event_id"] for item in outcome.replayed] == ["applications:poison-1:2:0"]
    assert outcome.kept == []
    # Replayed to the handler that failed it (its own queue); it tries again
    # (3 more attempts), then it is dead-lettered again: never dropped.
    assert wait_until(lambda: HANDLED.count("applications:poison-1:2:0") == 6)
    assert wait_until(lambda: len(deadletters.peek(config["AMQP_URI"])) == 1)


BATCHES = []


class BatchConsumer:
    """The jury's withdrawal handler taken many at once; a batch holding
    'poison-b' fails, so that the batch path falls back to one by one."""

    name = "jury"
    inbox = Inbox("jury")

    @consumes_batch(contracts.APPLICATION_WITHDRAWN)
    def on_application_withdrawn(self, batch):
        if any(data["application_id"] == "poison-b" for data in batch):
            raise RuntimeError("cannot handle this one")
        BATCHES.append([data["event_id"] for data in batch])


def publish_withdrawals(config, application_ids):
    with Connection(config["AMQP_URI"]) as connection:
        producer = connection.Producer()
        for application_id in application_ids:
            event, payload = withdrawn(application_id)
            envelope = dict(
                payload,
                event_id=f"{application_id}:e",
                event=event.name,
                occurred_at="2016-06-01T10:00:00+00:00",
            )
            producer.publish(
                envelope, exchange="submissions.events", routing_key=event.name, serializer="json"
            )


def test_a_busy_queue_is_taken_in_batches_and_a_bad_event_fails_alone(container_factory, config):
    BATCHES.clear()
    handled = lambda: sorted(event_id for batch in BATCHES for event_id in batch)  # noqa: E731
    busy = [f"app-b{n}" for n in range(60)]
    publish_withdrawals(config, busy)  # all queued before the consumer starts
    container_factory(BatchConsumer, config).start()
    assert wait_until(lambda: handled() == sorted(f"{i}:e" for i in busy), timeout=30)
    assert len(BATCHES) <= 3  # taken many at once, not 60 calls
    records = database(config, "jury")["handled_events"]
    assert records.count_documents({}) == len(busy)

    BATCHES.clear()
    publish_withdrawals(config, ["app-c1", "poison-b", "app-c2", "app-b7"])  # app-b7 again
    assert wait_until(lambda: len(deadletters.peek(config["AMQP_URI"])) == 1, timeout=30)
    [letter] = deadletters.peek(config["AMQP_URI"])
    assert letter["payload"]["application_id"] == "poison-b" and letter["attempts"] == 3
    # One by one, each once; app-b7 is known there as handled, so dropped.
    assert handled() == ["app-c1:e", "app-c2:e"]
    assert records.count_documents({}) == len(busy) + 2
    assert records.count_documents({"_id": "poison-b:e:on_application_withdrawn"}) == 0


def test_a_replay_the_broker_cannot_route_stays_in_the_dead_letter_queue(config):
    """The handler's queue is gone (a renamed consumer): the broker returns the
    republished copy, so the letter is not acked; the organiser reads why."""
    with Connection(config["AMQP_URI"], transport_options={"confirm_publish": True}) as connection:
        deadletters.dead_letter(
            connection.Producer(),
            {"event_id": "applications:orphan:1:0", "application_id": "orphan"},
            source="submissions",
            event="application_withdrawn",
            consumer="retired_service",
            handler="on_application_withdrawn",
            error="RuntimeError: boom",
            attempts=3,
        )
    assert wait_until(lambda: len(deadletters.peek(config["AMQP_URI"])) == 1)

    outcome = deadletters.replay(config["AMQP_URI"])
    # still there: never acked for a copy that went nowhere
    still = deadletters.peek(config["AMQP_URI"])
    assert [letter["payload"]["event_id"] for letter in still] == ["applications:orphan:1:0"]
    assert outcome.replayed == []
    [kept] = outcome.kept
    assert kept["reason"] == (
        "L'événement « application_withdrawn » n'a pas pu être renvoyé "
        "à retired_service.on_application_withdrawn : "
        f"la file « {deadletters.consumer_queue(kept)} » n'existe pas. Il reste dans les lettres mortes."
    )


def test_queues_exist_before_any_consumer_started(container_factory, config):
    """topology.declare_all ran in the fixture: an event published while the
    consumer is down waits in its queue instead of being dropped."""
    producer = container_factory(Producer, config)
    producer.start()
    with ServiceRpcProxy("submissions", config) as proxy:
        proxy.withdraw("app-5")
    assert HANDLED == []
    consumer = container_factory(Consumer, config)
    with entrypoint_waiter(consumer, "on_application_withdrawn"):
        consumer.start()
    assert HANDLED == ["applications:app-5:2:0"]


def test_an_event_with_no_queue_is_kept_until_one_exists(
    container_factory, rabbit_config, mongodb_uri, db_prefix
):
    """Without the topology, the mandatory publish is returned by RabbitMQ:
    the change stays unpublished (not dropped) and goes out once the queue exists."""
    config = service_config(
        rabbit_config,
        MONGODB_URI=mongodb_uri,
        MONGODB_DATABASE_PREFIX=db_prefix,
        OUTBOX_SWEEP_SECONDS=0.5,
    )
    HANDLED.clear()
    producer = container_factory(Producer, config)
    producer.start()
    with ServiceRpcProxy("submissions", config) as proxy:
        proxy.withdraw("app-6")
    db = database(config, "submissions")
    assert db["changes"].find_one({"_id": "applications:app-6:2"}) is not None
    assert Ledger(db).is_pending("applications:app-6:2")

    consumer = container_factory(Consumer, config)
    with entrypoint_waiter(consumer, "on_application_withdrawn", timeout=20):
        consumer.start()  # declares its queue; the sweep's next publish is routed
    assert HANDLED == ["applications:app-6:2:0"]
    assert wait_until(lambda: not Ledger(db).is_pending("applications:app-6:2"))


def test_the_sweep_reads_only_pending_markers(config):
    """Published changes leave no marker behind; a marker whose change never
    came (a crash between the two inserts) is dropped once old enough."""
    from datetime import timedelta

    from services.common.clock import utcnow
    from services.common.ledger import ORPHAN_MARKER_AGE

    db = database(config, "submissions")
    ledger = Ledger(db)
    _, change = ledger.create("applications", {"_id": "app-7", "state": "draft"}, [withdrawn("app-7")])
    assert db["outbox_pending"].find_one({"_id": change["_id"]}) is not None
    assert [c["_id"] for c in ledger.pending(utcnow() + timedelta(seconds=1))] == [change["_id"]]
    ledger.mark_published(change["_id"])
    assert db["outbox_pending"].count_documents({}) == 0

    db["outbox_pending"].insert_one({"_id": "applications:ghost:1", "created_at": utcnow()})
    assert ledger.pending(utcnow() + timedelta(seconds=1)) == []
    assert db["outbox_pending"].count_documents({}) == 1  # young: its writer may still be at work
    assert ledger.pending(utcnow() + ORPHAN_MARKER_AGE + timedelta(seconds=2)) == []
    assert db["outbox_pending"].count_documents({}) == 0


def test_a_broker_outage_loses_no_event(container_factory, config):
    """RabbitMQ unreachable from the producer (a proxy cut between them): the
    state change is still accepted, its event waits in the ledger, and once the
    broker is back the sweep delivers it exactly once."""
    from urllib.parse import urlsplit, urlunsplit

    from nameko.testing.services import entrypoint_hook

    from tests.support.api import wait_until
    from tests.support.tcp_proxy import TcpProxy

    broker = urlsplit(config["AMQP_URI"])
    proxy = TcpProxy(broker.hostname, broker.port or 5672).start()
    via_proxy = urlunsplit(
        broker._replace(netloc=f"{broker.username}:{broker.password}@127.0.0.1:{proxy.port}")
    )
    consumer = container_factory(Consumer, config)
    consumer.start()
    producer = container_factory(Producer, dict(config, AMQP_URI=via_proxy))
    producer.start()
    try:
        proxy.cut()
        with entrypoint_hook(producer, "withdraw") as withdraw:
            assert withdraw("app-8") == 2  # the write is accepted while the broker is away
        db = database(config, "submissions")
        assert db["changes"].find_one({"_id": "applications:app-8:2"}) is not None
        assert Ledger(db).is_pending("applications:app-8:2")
        assert HANDLED == []

        proxy.restore()
        assert wait_until(lambda: HANDLED == ["applications:app-8:2:0"], timeout=40)
        assert wait_until(lambda: not Ledger(db).is_pending("applications:app-8:2"))
    finally:
        if proxy.listener is None:
            proxy.restore()  # let the containers stop cleanly
