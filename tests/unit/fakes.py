"""In-memory stand-ins for the backing services, so the use cases run as they
do in production (the real repositories, the real Ledger and OutboxSession)
with no broker and no database.

- `memory_database()`: a mongomock Database (pymongo's API in memory; its
  `DuplicateKeyError` and `BulkWriteError` are pymongo's own, so a uniquely
  keyed insert that loses raises exactly what the real one does, and the
  ledger turns it into the same `Conflict`).
- `RecordingPublisher`: stands where relay.EventPublisher would publish to
  RabbitMQ; records each event, or fails while `down` (the change then stays
  unpublished for the sweep, as in an outage).
- `MemoryOutbox`: a database, its ledger, a relay over the recording
  publisher and the OutboxSession a worker would get.
- `SmtpServer` / `FakeSmtp`: stand for `mail.connect` and its client; the
  answer per recipient is scripted, the server can be down.
"""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from typing import Any

import mongomock
from pymongo.database import Database

from services.common.ledger import Ledger
from services.common.relay import OutboxSession, Relay
from services.common.types import Doc
from services.submissions.settings import SubmissionsSettings


def _accept_pymongo_update_sort() -> None:
    """mongomock 4.3 (its latest) predates pymongo 4.11, whose UpdateOne hands
    its bulk builder a `sort`; we never sort an update, so the fake takes a
    None and refuses anything else."""
    builder = mongomock.collection.BulkOperationBuilder
    add_update = builder.add_update

    def add_update_unsorted(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        if sort is not None:
            raise NotImplementedError("mongomock: a sorted update in a bulk write")
        return add_update(self, *args, **kwargs)

    builder.add_update = add_update_unsorted


_accept_pymongo_update_sort()


def memory_database(name: str = "label_unit") -> Database[Doc]:
    """A fresh, empty in-memory database (a new client each time: nothing is shared)."""
    return mongomock.MongoClient(tz_aware=True)[name]


class RecordingPublisher:
    """The relay's publisher: records what would have gone to RabbitMQ."""

    def __init__(self) -> None:
        self.events: list[Doc] = []
        self.down = False

    def publish(self, event: Doc) -> None:
        if self.down:
            raise ConnectionError("RabbitMQ unreachable (fake)")
        self.events.append(event)

    def names(self) -> list[str]:
        return [event["name"] for event in self.events]

    def payloads(self, name: str) -> list[Doc]:
        return [event["payload"] for event in self.events if event["name"] == name]


class MemoryOutbox:
    def __init__(self, db: Database[Doc] | None = None) -> None:
        self.db = memory_database() if db is None else db
        self.ledger = Ledger(self.db)
        self.publisher = RecordingPublisher()
        self.relay = Relay(self.ledger, self.publisher)
        self.session = OutboxSession(self.ledger, self.relay)

    def names(self) -> list[str]:
        return self.publisher.names()

    def payloads(self, name: str) -> list[Doc]:
        return self.publisher.payloads(name)

    def unpublished(self) -> list[Doc]:
        """Changes with events that no publish has confirmed yet: their marker is
        still there (what the sweep would retry)."""
        pending = {marker["_id"] for marker in self.db["outbox_pending"].find({})}
        changes = self.db["changes"].find({"events.0": {"$exists": True}})
        return [change for change in changes if change["_id"] in pending]


class Clock:
    """A settable `now` (aware UTC), for use cases that take a `now` callable."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2017, 10, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


class FakeSmtp:
    """What `mail.connect` returns: records the messages it accepts; `answers`
    maps a recipient to the exception its RCPT gets (a 4xx, a 5xx...)."""

    def __init__(self, answers: dict[str, BaseException] | None = None) -> None:
        self.answers = answers or {}
        self.accepted: list[tuple[str, list[str], bytes]] = []
        self.closed = False

    def sendmail(self, sender: str, recipients: list[str], message: bytes) -> dict[str, Any]:
        for recipient in recipients:
            if recipient in self.answers:
                raise self.answers[recipient]
        self.accepted.append((sender, recipients, message))
        return {}

    def quit(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


class SmtpServer:
    """Stands for `mail.connect`: hands out FakeSmtp clients sharing one script
    of answers, or refuses the connection while `down`."""

    def __init__(self, answers: dict[str, BaseException] | None = None) -> None:
        self.answers = answers if answers is not None else {}
        self.down = False
        self.clients: list[FakeSmtp] = []

    def __call__(self, settings: Any) -> FakeSmtp:
        if self.down:
            raise ConnectionRefusedError(111, "Connection refused (fake)")
        client = FakeSmtp(self.answers)
        self.clients.append(client)
        return client

    @property
    def accepted(self) -> list[tuple[str, list[str], bytes]]:
        return [message for client in self.clients for message in client.accepted]


def refused(code: int, text: str = "refused") -> smtplib.SMTPRecipientsRefused:
    return smtplib.SMTPRecipientsRefused({"x": (code, text.encode())})


# The submissions use cases' settings in every unit test: deploy/config.yaml's values.
SUBMISSIONS_SETTINGS = SubmissionsSettings(
    secret_key="unit-secret-0123456789-0123456789",
    reminder_days_before_deadline=7,
    token_lifetime=timedelta(days=90),
    unconfirmed_lifetime=timedelta(hours=48),
)
