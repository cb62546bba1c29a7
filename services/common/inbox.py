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
from nameko.events import event_handler
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common import deadletters
from services.common.clock import utcnow
from services.common.contracts import SUBSCRIPTIONS, Event
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
