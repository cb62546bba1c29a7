"""Outbox: a nameko dependency that writes through the ledger and publishes.

Each worker gets an `OutboxSession` (create / update / record, as in
ledger.py). Right after a write it publishes the change's events with
publisher confirms; if RabbitMQ is unreachable the change stays unpublished
and the sweep, a managed thread, retries it, as it does for changes left by a
crash. An event that has subscribers is published `mandatory`: one that no
queue would receive is returned by RabbitMQ and retried, never dropped.
A change's events go out in order, except an `independent` change's (a
release batch: one award per collectivité), PUBLISH_CONCURRENCY at a time;
either way its marker goes only once all of them are out.
"""

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

import eventlet
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.standalone.events import get_event_exchange

from services.common.clock import utcnow
from services.common.contracts import SUBSCRIPTIONS
from services.common.errors import Conflict
from services.common.ledger import Events, Ledger
from services.common.mongo import ServiceDatabaseProvider
from services.common.types import Doc

log = logging.getLogger(__name__)

SUBSCRIBED_EVENTS = {event.name for event, _, _ in SUBSCRIPTIONS}
# Changes younger than this are left to the worker that wrote them.
SWEEP_GRACE = timedelta(seconds=2)
# The events of an `independent` change go out this many at a time: each
# publish waits for its confirm (RabbitMQ has written it to disk), about 9 ms
# on a busy 2-core machine, so one at a time a national release (35,000
# award_decided) would take five minutes before its last email is queued.
PUBLISH_CONCURRENCY = 8


class Publishes(Protocol):
    """What the relay needs of a publisher (EventPublisher; a fake in the unit tests)."""

    def publish(self, event: Doc) -> None: ...


class EventPublisher:
    """Publishes ledger events to their source service's nameko exchange."""

    def __init__(self, amqp_uri: str, config: Mapping[str, Any]) -> None:
        self.config = config
        self.publisher = Publisher(amqp_uri, use_confirms=True, serializer="json")
        self._exchanges: dict[str, Any] = {}

    def exchange(self, source: str) -> Any:
        if source not in self._exchanges:
            self._exchanges[source] = get_event_exchange(source, self.config)
        return self._exchanges[source]

    def publish(self, event: Doc) -> None:
        exchange = self.exchange(event["source"])
        self.publisher.publish(
            event["payload"],
            exchange=exchange,
            routing_key=event["name"],
            mandatory=event["name"] in SUBSCRIBED_EVENTS,
            declare=[exchange],
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )


class Relay:
    def __init__(self, ledger: Ledger, publisher: Publishes) -> None:
        self.ledger = ledger
        self.publisher = publisher

    def publish(self, change: Doc) -> bool:
        """Publish every event of `change` (perhaps none), then delete its marker; False if it must wait
        for the sweep."""
        return self.publish_many([change]) == 1

    def publish_many(self, changes: list[Doc]) -> int:
        """`publish` for many changes, in order, their markers deleted together;
        the first that cannot go out stops the rest, left to the sweep. Returns
        how many were published."""
        sent = []
        for change in changes:
            if not self._send(change):
                break
            sent.append(change)
        self.ledger.mark_published_many(sent)
        return len(sent)

    def _send(self, change: Doc) -> bool:
        events = change["events"]
        try:
            if change.get("independent") and len(events) > 1:
                self._send_at_once(events)
            else:
                for event in events:  # in order
                    self.publisher.publish(event)
        except UndeliverableMessage:
            log.warning("change %s: no queue bound yet, will retry", change["_id"])
            return False
        except Exception:  # RabbitMQ down or unreachable: the sweep retries
            log.warning("change %s: publish failed, will retry", change["_id"], exc_info=True)
            return False
        return True

    def _send_at_once(self, events: list[Doc]) -> None:
        """PUBLISH_CONCURRENCY at a time; after a failure no new one starts, the
        ones under way end before this returns (none goes out later), and the
        first failure is raised."""
        failures: list[Exception] = []

        def send(event: Doc) -> None:
            if failures:
                return
            try:
                self.publisher.publish(event)
            except Exception as exc:
                failures.append(exc)

        pool = eventlet.GreenPool(PUBLISH_CONCURRENCY)
        for event in events:
            pool.spawn_n(send, event)
        pool.waitall()
        if failures:
            raise failures[0]

    def sweep(self, limit: int = 500) -> int:
        """Roll forward and publish what a crash or an outage left behind."""
        published = 0
        for change in self.ledger.pending(utcnow() - SWEEP_GRACE, limit):
            self.ledger.apply(change)
            if not self.publish(change):
                break  # keep the order of events; try again next round
            published += 1
        return published


class OutboxSession:
    """What a worker sees: ledger writes that publish as soon as they are decided."""

    def __init__(self, ledger: Ledger, relay: Relay) -> None:
        self.ledger = ledger
        self.relay = relay

    def create(self, collection: str, doc: Doc, events: Events = (), conflict: Conflict | None = None) -> Doc:
        doc, change = self.ledger.create(collection, doc, events, conflict)
        if change is not None:
            self.relay.publish(change)
        return doc

    def create_many(self, collection: str, docs: list[Doc]) -> tuple[list[Doc], list[str]]:
        """Ledger.create_many (no event: nothing to publish)."""
        return self.ledger.create_many(collection, docs)

    def update(
        self,
        collection: str,
        current: Doc,
        fields: Doc,
        events: Events = (),
        conflict: Conflict | None = None,
    ) -> Doc:
        doc, change = self.ledger.update(collection, current, fields, events, conflict)
        self.relay.publish(change)
        return doc

    def record(
        self,
        key: str,
        events: Events,
        conflict: Conflict | None = None,
        publish: bool = True,
        independent: bool = False,
    ) -> Doc:
        change = self.ledger.record(key, events, conflict, independent)
        if publish:
            self.relay.publish(change)
        return change

    def record_many(self, steps: list[tuple[str, Events]]) -> tuple[list[Doc], list[str]]:
        """Ledger.record_many, unpublished: (decided changes, keys decided before);
        then `publish(change)` for each."""
        return self.ledger.record_many(steps)

    def publish(self, change: Doc) -> None:
        """Publish a change recorded with `publish=False`, or read back after a
        crash (unless its marker says it has been already)."""
        if change["events"] and self.ledger.is_pending(change["_id"]):
            self.relay.publish(change)

    def publish_many(self, changes: list[Doc]) -> None:
        """Publish the changes a `record_many` of this worker just decided (their markers go together)."""
        self.relay.publish_many([c for c in changes if c["events"]])


class Outbox(ServiceDatabaseProvider):
    def __init__(self, service_name: str) -> None:
        super().__init__(service_name)
        self.relay: Relay | None = None
        self._running = False

    def setup(self) -> None:
        super().setup()
        config = self.container.config
        ledger = Ledger(
            self.set_up_database(), crash_after_decide=config.get("FAULT_CRASH_AFTER_DECIDE") or None
        )
        self.relay = Relay(ledger, EventPublisher(config[AMQP_URI_CONFIG_KEY], config))
        self.interval = float(config.get("OUTBOX_SWEEP_SECONDS", 5))

    def start(self) -> None:
        self._running = True
        self.container.spawn_managed_thread(self._sweep_forever, identifier="outbox_sweep")

    def _set_up_relay(self) -> Relay:
        if self.relay is None:
            raise RuntimeError("Outbox used before its setup")
        return self.relay

    def _sweep_forever(self) -> None:
        relay = self._set_up_relay()
        while self._running:
            try:
                relay.sweep()
            except Exception:  # the database may be restarting; never kill the container
                log.warning("outbox sweep failed", exc_info=True)
            eventlet.sleep(self.interval)

    def stop(self) -> None:
        self._running = False
        super().stop()

    def kill(self) -> None:
        self._running = False
        super().kill()

    def get_dependency(self, worker_ctx: Any) -> OutboxSession:
        relay = self._set_up_relay()
        return OutboxSession(relay.ledger, relay)
