"""The in-memory fakes behave like the real thing where the use cases depend
on it: the ledger over mongomock decides by duplicate key, exactly once."""

from datetime import UTC, datetime

import eventlet
import pytest

from services.common import contracts, relay
from services.common.errors import Conflict
from tests.unit.fakes import MemoryOutbox


def juror_registered(juror_id="j1"):
    return (
        contracts.JUROR_REGISTERED,
        {
            "juror": {"id": juror_id, "name": "Ada", "email": "ada@example.fr"},
            "department": "25",
        },
    )


def test_create_twice_raises_conflict_and_publishes_once():
    out = MemoryOutbox()
    doc = out.session.create("jurors", {"_id": "j1", "name": "Ada"}, events=[juror_registered()])
    assert doc["version"] == 1
    with pytest.raises(Conflict) as lost:
        out.session.create("jurors", {"_id": "j1", "name": "Other"}, events=[juror_registered()])
    assert lost.value.code == "concurrent_change"
    assert out.db.jurors.find_one({"_id": "j1"})["name"] == "Ada"
    assert out.names() == ["juror_registered"]
    assert out.payloads("juror_registered")[0]["event_id"] == "jurors:j1:1:0"
    # The refused writer came after the winner's publish: its marker stays, and
    # the sweep publishes the change once more, with the same event id.
    assert [change["_id"] for change in out.unpublished()] == ["jurors:j1:1"]
    out.db.outbox_pending.update_many({}, {"$set": {"created_at": datetime(2000, 1, 1, tzinfo=UTC)}})
    assert out.relay.sweep() == 1
    assert [p["event_id"] for p in out.payloads("juror_registered")] == ["jurors:j1:1:0"] * 2
    assert out.unpublished() == []


def test_a_create_with_no_event_is_the_documents_own_insert_and_decides_alone():
    out = MemoryOutbox()
    mine = Conflict("déjà créée", "task_exists")
    doc = out.session.create("tasks", {"_id": "t1", "state": "open"}, conflict=mine)
    assert doc == {"_id": "t1", "state": "open", "version": 1} == out.db.tasks.find_one({"_id": "t1"})
    # No change and no marker: nothing to publish, nothing for the sweep.
    assert out.db.changes.count_documents({}) == 0 and out.db.outbox_pending.count_documents({}) == 0
    with pytest.raises(Conflict) as lost:
        out.session.create("tasks", {"_id": "t1", "state": "other"}, conflict=mine)
    assert lost.value is mine
    assert out.db.tasks.find_one({"_id": "t1"})["state"] == "open"
    # Its first update is decided by the change to version 2, as any other.
    out.session.update("tasks", doc, {"state": "claimed"}, events=[juror_registered()])
    assert [c["_id"] for c in out.db.changes.find({})] == ["tasks:t1:2"]
    assert out.names() == ["juror_registered"] and out.unpublished() == []


def test_two_writers_of_the_same_version_one_wins_with_the_given_conflict():
    out = MemoryOutbox()
    current = out.session.create("tasks", {"_id": "t1", "state": "open"})
    out.session.update("tasks", current, {"state": "claimed", "by": "a"})
    mine = Conflict("taken", "already_claimed")
    with pytest.raises(Conflict) as lost:
        out.session.update("tasks", current, {"state": "claimed", "by": "b"}, conflict=mine)
    assert lost.value is mine
    assert out.db.tasks.find_one({"_id": "t1"}) == {"_id": "t1", "state": "claimed", "by": "a", "version": 2}


def test_unpublished_change_is_published_by_the_sweep_once_the_broker_is_back():
    out = MemoryOutbox()
    out.publisher.down = True
    out.session.create("jurors", {"_id": "j1"}, events=[juror_registered()])
    assert out.names() == []
    assert [change["_id"] for change in out.unpublished()] == ["jurors:j1:1"]
    out.publisher.down = False
    assert out.relay.sweep() == 0  # younger than the grace period: left to its writer
    out.db.changes.update_many(
        {}, {"$set": {"created_at": out.db.changes.find_one()["created_at"].replace(year=2000)}}
    )
    out.db.outbox_pending.update_many({}, {"$set": {"created_at": out.db.changes.find_one()["created_at"]}})
    assert out.relay.sweep() == 1
    assert out.names() == ["juror_registered"]
    assert out.unpublished() == []
    assert out.db.outbox_pending.count_documents({}) == 0


def email_sent(email_id):
    return (contracts.EMAIL_SENT, {"email_id": email_id, "template": "result", "recipient": "a@b.fr"})


def test_record_many_decides_each_step_alone():
    out = MemoryOutbox()
    out.session.record("email-sent:m2", [email_sent("m2")])  # decided before (another replica)
    steps = [(f"email-sent:m{n}", [email_sent(f"m{n}")]) for n in (1, 2, 3)]
    decided, refused = out.session.record_many(steps)
    assert [c["doc_id"] for c in decided] == ["email-sent:m1", "email-sent:m3"]
    assert refused == ["email-sent:m2"]
    for change in decided:
        out.session.publish(change)
    assert [p["email_id"] for p in out.payloads("email_sent")] == ["m2", "m1", "m3"]
    # m2's refused insert put its marker back: the sweep publishes it once more.
    assert [c["doc_id"] for c in out.unpublished()] == ["email-sent:m2"]
    assert out.session.record_many([]) == ([], [])


def test_record_many_left_unpublished_by_an_outage_goes_out_with_the_sweep():
    out = MemoryOutbox()
    decided, _ = out.session.record_many([("email-sent:m1", [email_sent("m1")])])
    out.publisher.down = True
    out.session.publish(decided[0])
    assert out.payloads("email_sent") == [] and len(out.unpublished()) == 1
    out.publisher.down = False
    out.db.outbox_pending.update_many({}, {"$set": {"created_at": datetime(2000, 1, 1, tzinfo=UTC)}})
    assert out.relay.sweep() == 1
    assert [p["email_id"] for p in out.payloads("email_sent")] == ["m1"]


class FailingAfter:
    """A publisher whose broker goes away after `n` events."""

    def __init__(self, n):
        self.left, self.events = n, []

    def publish(self, event):
        if self.left == 0:
            raise ConnectionError("RabbitMQ unreachable (fake)")
        self.left -= 1
        self.events.append(event)


def test_publish_many_marks_what_went_out_and_leaves_the_rest_to_the_sweep_in_order():
    out = MemoryOutbox()
    decided, _ = out.session.record_many([(f"email-sent:m{n}", [email_sent(f"m{n}")]) for n in (1, 2, 3)])
    out.relay.publisher = FailingAfter(1)
    out.session.publish_many(decided)
    assert [e["payload"]["email_id"] for e in out.relay.publisher.events] == ["m1"]
    assert [c["doc_id"] for c in out.unpublished()] == ["email-sent:m2", "email-sent:m3"]
    assert sorted(m["_id"] for m in out.db.outbox_pending.find({})) == [c["_id"] for c in decided[1:]]
    out.relay.publisher = out.publisher
    out.db.outbox_pending.update_many({}, {"$set": {"created_at": datetime(2000, 1, 1, tzinfo=UTC)}})
    assert out.relay.sweep() == 2
    assert [p["email_id"] for p in out.payloads("email_sent")] == ["m2", "m3"]
    assert out.unpublished() == [] and out.db.outbox_pending.count_documents({}) == 0


class SlowConfirms:
    """A publisher whose confirms take a while (RabbitMQ's disk write): counts how
    many publishes wait at once; the broker goes away after `n` events."""

    def __init__(self, n=None):
        self.left, self.events, self.waiting, self.most_waiting = n, [], 0, 0

    def publish(self, event):
        if self.left is not None:
            if self.left == 0:
                raise ConnectionError("RabbitMQ unreachable (fake)")
            self.left -= 1
        self.waiting += 1
        self.most_waiting = max(self.most_waiting, self.waiting)
        eventlet.sleep(0.01)
        self.waiting -= 1
        self.events.append(event)


def test_an_independent_change_goes_out_several_events_at_a_time_and_whole_or_not_at_all():
    out = MemoryOutbox()
    out.relay.publisher = SlowConfirms()
    batch = [email_sent(f"m{n}") for n in range(40)]
    out.session.record("release-batch:0", batch, independent=True)
    assert sorted(e["payload"]["email_id"] for e in out.relay.publisher.events) == sorted(
        f"m{n}" for n in range(40)
    )
    assert 1 < out.relay.publisher.most_waiting <= relay.PUBLISH_CONCURRENCY
    assert out.unpublished() == []

    out.relay.publisher = SlowConfirms(n=10)  # the broker goes away mid-batch
    out.session.record("release-batch:1", batch, independent=True)
    assert [c["doc_id"] for c in out.unpublished()] == ["release-batch:1"]  # the sweep sends it again
    eventlet.sleep(0.05)
    assert len(out.relay.publisher.events) == 10  # nothing left under way goes out later

    out.relay.publisher = SlowConfirms()
    out.session.record("ordered", batch[:5])  # not independent: one at a time, in order
    assert out.relay.publisher.most_waiting == 1
    assert [e["payload"]["email_id"] for e in out.relay.publisher.events] == [f"m{n}" for n in range(5)]


def test_a_change_with_no_events_leaves_no_marker_once_applied_and_a_crash_before_is_rolled_forward():
    out = MemoryOutbox()
    task = out.session.create("tasks", {"_id": "t1", "state": "open"})
    out.session.update("tasks", task, {"state": "claimed"})
    assert out.db.tasks.find_one({"_id": "t1"})["state"] == "claimed"
    assert list(out.db.outbox_pending.find({})) == []  # nothing left for the sweep
    # Decided, then a crash before it was applied: the marker stays, the sweep applies it.
    change = out.ledger._decide("tasks", "t2", 1, {"insert": {"_id": "t2", "version": 1}}, (), None)
    out.db.outbox_pending.update_many({}, {"$set": {"created_at": datetime(2000, 1, 1, tzinfo=UTC)}})
    assert [m["_id"] for m in out.db.outbox_pending.find({})] == [change["_id"]]
    assert out.relay.sweep() == 1
    assert out.db.tasks.find_one({"_id": "t2"}) is not None
    assert list(out.db.outbox_pending.find({})) == []
    assert out.names() == []
