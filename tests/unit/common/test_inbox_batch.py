"""The inbox's batch path (`InboxSession.handle_batch`): one call and one
record for a good batch; a failing batch handled again one event at a time,
so that only the bad event is retried, then dead-lettered alone."""

from marshmallow import fields
from pymongo.errors import AutoReconnect

from services.common.contracts import Event, EventSchema
from services.common.inbox import HANDLED, InboxSession, Poison
from tests.unit.fakes import memory_database


class Decided(EventSchema):
    collectivite = fields.String(required=True)


DECIDED = Event("award_decided", "awards", Decided)
HANDLER = "on_award_decided"


class DeadLetters:
    def __init__(self):
        self.published = []

    def publish(self, payload, **options):
        self.published.append((payload, options["headers"]["x-error"]))


def payload(n):
    return {
        "event_id": f"e{n}",
        "event": "award_decided",
        "occurred_at": "2026-12-01T10:00:00Z",
        "collectivite": f"c{n}",
    }


def session(db, poison=None, max_attempts=2):
    return InboxSession(db, DeadLetters(), "notifications", max_attempts, 0.0, Poison(poison))


def test_a_good_batch_is_one_call_and_every_id_is_recorded():
    db = memory_database()
    calls = []
    inbox = session(db)
    outcomes = inbox.handle_batch(DECIDED, HANDLER, [payload(1), payload(2), payload(3)], calls.append)
    assert outcomes == [True, True, True]
    assert [[data["collectivite"] for data in batch] for batch in calls] == [["c1", "c2", "c3"]]
    assert sorted(doc["_id"] for doc in db[HANDLED].find()) == [f"e{n}:{HANDLER}" for n in (1, 2, 3)]
    # A redelivered batch is called again (its effects are keyed inserts) and recorded once.
    assert inbox.handle_batch(DECIDED, HANDLER, [payload(2), payload(4)], calls.append) == [True, True]
    assert db[HANDLED].count_documents({}) == 4


def test_an_invalid_payload_is_dead_lettered_at_once_and_the_rest_handled():
    db = memory_database()
    calls = []
    inbox = session(db)
    broken = dict(payload(2), collectivite=None)
    assert inbox.handle_batch(DECIDED, HANDLER, [payload(1), broken, payload(3)], calls.append) == [True] * 3
    assert [len(batch) for batch in calls] == [2]
    [(letter, error)] = inbox.publisher.published
    assert letter is broken and "collectivite" in error


def test_a_failing_batch_is_handled_one_by_one_and_only_the_bad_event_retried_then_dead_lettered():
    db = memory_database()
    handled = []

    def call(batch):
        if any(data["collectivite"] == "c2" for data in batch):
            raise ValueError("c2 cannot be handled")
        handled.extend(data["event_id"] for data in batch)

    inbox = session(db, max_attempts=2)
    assert inbox.handle_batch(DECIDED, HANDLER, [payload(1), payload(2), payload(3)], call) == [
        True,
        False,
        True,
    ]
    assert handled == ["e1", "e3"]
    assert inbox.publisher.published == []
    # The broker delivers e2 again, with new ones: its second failure dead-letters and acks it.
    assert inbox.handle_batch(DECIDED, HANDLER, [payload(2), payload(4)], call) == [True, True]
    assert handled == ["e1", "e3", "e4"]
    [(letter, error)] = inbox.publisher.published
    assert letter["event_id"] == "e2" and "c2 cannot be handled" in error
    assert db[HANDLED].count_documents({"_id": f"e2:{HANDLER}"}) == 0


def test_a_poisoned_event_fails_alone():
    db = memory_database()
    handled = []
    inbox = session(db, poison="award_decided", max_attempts=5)
    outcomes = inbox.handle_batch(
        DECIDED, HANDLER, [payload(1), payload(2)], lambda batch: handled.extend(d["event_id"] for d in batch)
    )
    assert outcomes == [False, True]  # the first event is the poisoned one
    assert handled == ["e2"]


def test_once_the_database_fails_the_rest_of_the_batch_is_requeued_without_waiting_for_it_again():
    db = memory_database()
    tried = []

    def call(batch):
        tried.append([data["event_id"] for data in batch])
        raise AutoReconnect("database unreachable")

    outcomes = session(db, max_attempts=5).handle_batch(
        DECIDED, HANDLER, [payload(n) for n in (1, 2, 3)], call
    )
    assert outcomes == [False, False, False]
    assert tried == [["e1", "e2", "e3"], ["e1"]]  # the batch, then the first event alone, then no more
