"""The send queue against the real FerretDB: the sender's poll reads one marker
per email still to send, kept in step with the email's state."""

from datetime import timedelta

import pytest

from services.common.clock import utcnow
from services.common.mongo import make_client
from services.notifications.repository import (
    EMAILS,
    ORPHAN_MARKER_AGE,
    SEND_QUEUE,
    EmailRepository,
    ensure_indexes,
)


@pytest.fixture
def db(mongodb_uri, db_prefix):
    client = make_client(mongodb_uri)
    database = client[f"{db_prefix}notifications"]
    ensure_indexes(database)
    yield database
    client.close()


def email(n, **fields):
    now = utcnow()
    return dict(
        {
            "_id": f"mq{n}",
            "state": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "recipient": f"mairie{n}@commune.example.fr",
        },
        **fields,
    )


def queue_ids(db):
    return sorted(doc["_id"] for doc in db[SEND_QUEUE].find({}))


def test_a_marker_lives_from_queueing_to_sent_or_failed(db):
    emails = EmailRepository(db)
    assert emails.insert_new(email(1)) and emails.insert_new(email(2)) and emails.insert_new(email(3))
    assert queue_ids(db) == ["mq1", "mq2", "mq3"]
    assert sorted(e["_id"] for e in emails.due(utcnow(), 10)) == ["mq1", "mq2", "mq3"]
    assert len(emails.due(utcnow(), 2)) == 2

    emails.mark_sent("mq1", 1, utcnow())
    emails.mark_failed("mq2", 1, "550", utcnow())
    later = utcnow() + timedelta(minutes=5)
    emails.mark_retry("mq3", later, "451", attempts=1)
    assert queue_ids(db) == ["mq3"]
    assert emails.due(utcnow(), 10) == []  # backing off
    assert [e["_id"] for e in emails.due(later, 10)] == ["mq3"]
    assert emails.next_due_at() == later.replace(microsecond=later.microsecond // 1000 * 1000)

    # an organiser's resend puts the failed email back in the queue, due now
    emails.requeue(emails.get("mq2"), utcnow(), 8)
    assert [e["_id"] for e in emails.due(utcnow(), 10)] == ["mq2"]
    assert emails.get("mq2")["state"] == "queued"


def test_a_redelivered_email_already_sent_is_not_sent_again(db):
    emails = EmailRepository(db)
    assert emails.insert_new(email(1))
    emails.mark_sent("mq1", 1, utcnow())
    assert not emails.insert_new(email(1))  # the same event again: its marker comes back...
    assert emails.due(utcnow(), 10) == []  # ...but the email is sent: not due
    assert emails.due(utcnow() + ORPHAN_MARKER_AGE + timedelta(seconds=1), 10) == []
    assert queue_ids(db) == []  # dropped once old enough


def test_crash_between_marker_and_email_leaves_only_an_orphan_marker(db):
    emails = EmailRepository(db)
    emails.queue.put("mq9", utcnow())  # the process died before inserting the email
    assert emails.due(utcnow(), 10) == []
    assert queue_ids(db) == ["mq9"]  # young: its email may be a moment away
    assert emails.insert_new(email(9))  # the redelivered event queues it after all
    assert [e["_id"] for e in emails.due(utcnow() + timedelta(seconds=10), 10)] == ["mq9"]

    emails.queue.put("mq8", utcnow())
    assert emails.due(utcnow() + ORPHAN_MARKER_AGE + timedelta(seconds=1), 10)[0]["_id"] == "mq9"
    assert queue_ids(db) == ["mq9"]  # the old orphan is dropped


def test_queued_emails_stored_before_the_queue_existed_get_their_marker(db):
    db[EMAILS].insert_many([email(1), email(2, state="sent", next_attempt_at=None)])
    ensure_indexes(db)
    assert queue_ids(db) == ["mq1"]
    assert [e["_id"] for e in EmailRepository(db).due(utcnow(), 10)] == ["mq1"]


def test_a_queue_batch_is_read_and_marked_sent_together(db):
    """Emails queued together come due together: the poll reads the whole
    batch at once (past its limit of markers), and the sent ones leave the
    queue together, while an email queued alone keeps its own way."""
    emails = EmailRepository(db)
    batch = emails.insert_new_many([email(n) for n in range(1, 9)])
    assert len({doc["queue_batch"] for doc in batch}) == 1
    assert emails.insert_new(email(9))
    later = utcnow() + timedelta(minutes=5)
    emails.mark_retry("mq8", later, "451", attempts=1)  # backing off: not due with its batch
    in_batch = [f"mq{n}" for n in range(1, 8)]

    due = emails.due(utcnow(), 5)  # any five due markers hold four of the batch
    assert sorted(e["_id"] for e in due if e["_id"] != "mq9") == in_batch
    emails.mark_sent_many([(e, 1) for e in due if e["_id"] != "mq9"], utcnow())
    assert queue_ids(db) == ["mq8", "mq9"]
    assert sorted(e["_id"] for e in db[EMAILS].find({"state": "sent", "attempts": 1})) == in_batch
    assert [e["_id"] for e in emails.due(utcnow(), 10)] == ["mq9"]
    assert sorted(e["_id"] for e in emails.due(later, 10)) == ["mq8", "mq9"]


def test_the_next_queued_emails_are_read_without_a_sort(db):
    emails = EmailRepository(db)
    emails.insert_new_many([email(n, html="<p>Madame, Monsieur le Maire,</p>") for n in range(1, 5)])
    emails.mark_sent("mq1", 1, utcnow())
    assert [e["_id"] for e in emails.next_queued(2)] == ["mq2", "mq3"]
    assert "html" not in emails.next_queued(1)[0]
