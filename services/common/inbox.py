"""Idempotent event consumption with retries and a dead-letter path.

`@consumes(EVENT)` on a service method (named as in contracts.SUBSCRIPTIONS)
turns it into a nameko event handler that:
- validates the payload with the event's contract (an invalid one is
  dead-lettered at once: retrying cannot fix it);
- skips an event id this handler already handled (`handled_events`, keyed
  `<event id>:<handler>`);
- on an exception, requeues the message after a short backoff, up to
  INBOX_MAX_ATTEMPTS; then publishes it to the dead-letter queue and acks it,
  so a poisoned message never blocks the queue nor vanishes.
The service class must declare `inbox = Inbox("<service>")`. Handlers must be
idempotent in their effects: a crash after the effect and before the record
replays the handler.

`@consumes_batch(EVENT)` takes the events of a busy queue many at once (up to
INBOX_BATCH_SIZE, gathered for INBOX_BATCH_WAIT_SECONDS): one call with the
list, its ids recorded in one insert. It is for handlers whose effects are
uniquely keyed inserts, so no id is looked up first: a redelivered event
inserts nothing new. A batch that raises is handled again one event at a
time, as `@consumes` would, so that one bad event is retried and
dead-lettered alone.
"""

import functools
import logging
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import eventlet
from marshmallow import ValidationError
from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.events import EventHandler, event_handler
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import QueueConsumer
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.common import deadletters
from services.common.clock import utcnow
from services.common.contracts import SUBSCRIPTIONS, Event
from services.common.ledger import insert_new
from services.common.mongo import ServiceDatabaseProvider
from services.common.types import Doc

log = logging.getLogger(__name__)

HANDLED = "handled_events"
FAILURES = "event_failures"

T = TypeVar("T")


class Poison:
    """Test-only fault injection (config FAULT_POISON_FIRST_EVENT, tests/faults):
    "all" or event names, comma-separated. Each handler of a listed event fails
    on the first such event it receives in this process, at every attempt, so
    that this one message goes the whole way to the dead-letter queue while
    the others pass. Empty (production): never fails."""

    def __init__(self, spec: str | None) -> None:
        self.names = {name.strip() for name in str(spec or "").split(",") if name.strip()}
        self.chosen: dict[str, str] = {}  # handler -> the event id it fails on

    def check(self, event_name: str, handler_name: str, event_id: str) -> None:
        if not self.names or ("all" not in self.names and event_name not in self.names):
            return
        if self.chosen.setdefault(handler_name, event_id) == event_id:
            raise RuntimeError(f"fault injection (FAULT_POISON_FIRST_EVENT): {event_id} in {handler_name}")


class InboxSession:
    def __init__(
        self,
        db: Database[Doc],
        publisher: Any,
        service_name: str,
        max_attempts: int,
        backoff: float,
        poison: Poison | None = None,
    ) -> None:
        self.handled = db[HANDLED]
        self.failures = db[FAILURES]
        self.publisher = publisher
        self.service_name = service_name
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.poison = poison or Poison(None)

    def handle(self, event: Event, handler_name: str, payload: Doc, call: Callable[[Doc], T]) -> T | None:
        try:
            data = event.validate(payload)
        except ValidationError as exc:
            self._dead_letter(event, handler_name, payload, f"invalid payload: {exc.messages}", 1)
            return None
        key = f"{data['event_id']}:{handler_name}"
        if self.handled.find_one({"_id": key}, {"_id": 1}) is not None:
            log.info("%s already handled by %s, dropped", data["event_id"], handler_name)
            return None
        try:
            self.poison.check(event.name, handler_name, data["event_id"])
            result = call(data)
        except Exception:
            error = traceback.format_exc()
            attempts = self._count_failure(key)
            if attempts >= self.max_attempts:
                log.error("%s failed %d times in %s, dead-lettered", key, attempts, handler_name)
                self._dead_letter(event, handler_name, payload, error, attempts)
                self.failures.delete_one({"_id": key})  # a replay starts afresh
                return None
            log.warning("%s failed (attempt %d), requeued", key, attempts)
            eventlet.sleep(min(self.backoff * 2 ** (attempts - 1), 10))
            raise
        try:
            self.handled.insert_one({"_id": key, "event": event.name, "handled_at": utcnow()})
        except DuplicateKeyError:
            pass  # handled concurrently by a redelivery; the effects are idempotent
        self.failures.delete_one({"_id": key})
        return result

    def handle_batch(
        self, event: Event, handler_name: str, payloads: list[Doc], call: Callable[[list[Doc]], Any]
    ) -> list[bool]:
        """`handle` for many events at once; one outcome per payload: True acks
        it, False requeues it."""
        valid: list[tuple[Doc, Doc]] = []  # (payload, data)
        for payload in payloads:
            try:
                valid.append((payload, event.validate(payload)))
            except ValidationError as exc:
                self._dead_letter(event, handler_name, payload, f"invalid payload: {exc.messages}", 1)
        try:
            for _, data in valid:
                self.poison.check(event.name, handler_name, data["event_id"])
            if valid:
                call([data for _, data in valid])
        except Exception:
            log.warning(
                "a batch of %d %s failed in %s, handled one by one", len(valid), event.name, handler_name
            )
            requeued = {id(payload) for payload in self._one_by_one(event, handler_name, valid, call)}
            return [id(payload) not in requeued for payload in payloads]
        self._record_handled([f"{data['event_id']}:{handler_name}" for _, data in valid], event.name)
        return [True] * len(payloads)

    def _one_by_one(
        self, event: Event, handler_name: str, valid: list[tuple[Doc, Doc]], call: Callable[[list[Doc]], Any]
    ) -> list[Doc]:
        """The payloads to requeue: each whose handling raised, and all the rest
        once the database fails (the next would only wait for it again)."""
        requeue: list[Doc] = []
        for n, (payload, _) in enumerate(valid):
            try:
                self.handle(event, handler_name, payload, lambda data: call([data]))
            except PyMongoError:
                return requeue + [payload for payload, _ in valid[n:]]
            except Exception:
                requeue.append(payload)
        return requeue

    def _record_handled(self, keys: list[str], event_name: str) -> None:
        now = utcnow()
        insert_new(self.handled, [{"_id": key, "event": event_name, "handled_at": now} for key in keys])

    def _count_failure(self, key: str) -> int:
        doc = self.failures.find_one_and_update(
            {"_id": key}, {"$inc": {"attempts": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        attempts: int = doc["attempts"]
        return attempts

    def _dead_letter(self, event: Event, handler_name: str, payload: Doc, error: str, attempts: int) -> None:
        deadletters.dead_letter(
            self.publisher,
            payload,
            source=event.source,
            event=event.name,
            consumer=self.service_name,
            handler=handler_name,
            error=error,
            attempts=attempts,
        )


class Inbox(ServiceDatabaseProvider):
    def setup(self) -> None:
        self._check_subscriptions()
        super().setup()
        config = self.container.config
        self.session = InboxSession(
            self.set_up_database(),
            Publisher(config[AMQP_URI_CONFIG_KEY], use_confirms=True, serializer="json"),
            self.service_name,
            int(config.get("INBOX_MAX_ATTEMPTS", 5)),
            float(config.get("INBOX_BACKOFF_SECONDS", 0.5)),
            Poison(config.get("FAULT_POISON_FIRST_EVENT")),
        )

    def _check_subscriptions(self) -> None:
        """Every @consumes handler must be listed in contracts.SUBSCRIPTIONS,
        or topology.py would not declare its queue ahead of the producers."""
        declared = {(event.name, consumer, method) for event, consumer, method in SUBSCRIPTIONS}
        for entrypoint in self.container.entrypoints:
            if getattr(entrypoint, "event_type", None) is None:
                continue
            key = (entrypoint.event_type, self.container.service_name, entrypoint.method_name)
            if key not in declared:
                raise RuntimeError(f"{key} is missing from contracts.SUBSCRIPTIONS")

    def get_dependency(self, worker_ctx: Any) -> InboxSession:
        return self.session


def consumes(event: Event) -> Callable[[Callable[[Any, Doc], Any]], Any]:
    """Decorate `def on_x(self, data)`: `data` is the validated payload."""

    def decorator(method: Callable[[Any, Doc], Any]) -> Any:
        @functools.wraps(method)
        def handler(self: Any, payload: Doc) -> Any:
            return self.inbox.handle(event, method.__name__, payload, lambda data: method(self, data))

        return event_handler(event.source, event.name, requeue_on_error=True)(handler)

    return decorator


class BatchQueueConsumer(QueueConsumer):
    """The batch handlers' own consumer (own connection): its prefetch is the
    batch size, where nameko's shared one allows the container's max_workers."""

    @property
    def prefetch_count(self) -> int:
        return int(self.container.config["INBOX_BATCH_SIZE"])


class BatchEventHandler(EventHandler):
    """A nameko event handler whose worker gets a list of payloads: the
    messages that arrived while it gathered (up to `batch_size`, for
    `wait` seconds after the first). The worker's result says, per message,
    whether to ack it or to requeue it."""

    queue_consumer = BatchQueueConsumer()

    def setup(self) -> None:
        config = self.container.config
        self.batch_size = int(config["INBOX_BATCH_SIZE"])
        self.wait = float(config["INBOX_BATCH_WAIT_SECONDS"])
        self._gathered: list[tuple[Doc, Any]] = []
        self._timer: Any = None
        super().setup()

    def stop(self) -> None:
        super().stop()
        self._gathered = []  # unacked: the broker delivers them again

    def handle_message(self, body: Doc, message: Any) -> None:
        self._gathered.append((body, message))
        if len(self._gathered) >= self.batch_size:
            self._spawn_batch()
        elif self._timer is None:
            self._timer = self.container.spawn_managed_thread(self._spawn_after_wait)

    def _spawn_after_wait(self) -> None:
        eventlet.sleep(self.wait)
        self._timer = None
        self._spawn_batch()

    def _spawn_batch(self) -> None:
        gathered, self._gathered = self._gathered, []
        if not gathered:
            return
        messages = [message for _, message in gathered]
        try:
            self.container.spawn_worker(
                self,
                ([body for body, _ in gathered],),
                {},
                context_data=self.unpack_message_headers(messages[0]),
                handle_result=functools.partial(self._batch_done, messages),
            )
        except ContainerBeingKilled:
            for message in messages:
                self.queue_consumer.requeue_message(message)

    def _batch_done(
        self, messages: list[Any], worker_ctx: Any, result: Any = None, exc_info: Any = None
    ) -> Any:
        outcomes = result if exc_info is None else [False] * len(messages)
        for message, ack in zip(messages, outcomes, strict=True):
            if ack:
                self.queue_consumer.ack_message(message)
            else:
                self.queue_consumer.requeue_message(message)
        return result, exc_info


def consumes_batch(event: Event) -> Callable[[Callable[[Any, list[Doc]], Any]], Any]:
    """Decorate `def on_x(self, batch)`: `batch` is a list of validated payloads."""

    def decorator(method: Callable[[Any, list[Doc]], Any]) -> Any:
        @functools.wraps(method)
        def handler(self: Any, payloads: list[Doc]) -> list[bool]:
            session: InboxSession = self.inbox
            return session.handle_batch(event, method.__name__, payloads, lambda batch: method(self, batch))

        return BatchEventHandler.decorator(event.source, event.name)(handler)

    return decorator
