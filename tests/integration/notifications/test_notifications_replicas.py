"""Two notifications processes (`nameko run`) sharing one send queue, with an
SMTP server slow enough that a batch outlasts the sending lease, each sending
over several connections: each email is delivered exactly once (a lease per
email, renewed while it is sent).
Campaign years 2420-2429."""

from collections import Counter

import pytest

from tests.integration.notifications.helpers import SmtpServer, registered
from tests.integration.notifications.test_notifications_crash import kill, start_service
from tests.support.api import wait_until


@pytest.fixture
def slow_smtp(tmp_path):
    server = SmtpServer(tmp_path / "mail", delay=0.08)  # a batch of 30 takes > 2.4 s: past the lease
    server.start()
    yield server
    server.stop()


def test_two_replicas_and_a_slow_server_deliver_each_email_exactly_once(
    config, slow_smtp, notif_db, dispatch, tmp_path
):
    events = [registered(n, 2420, "replica") for n in range(90)]
    for event in events:  # queued in RabbitMQ until the services start
        dispatch("submissions", "collectivite_registered", event)
    options = dict(SENDING_LEASE_SECONDS="1.5", SMTP_BATCH_SIZE="30", SMTP_CONNECTIONS="3")
    replicas = [start_service(config, slow_smtp, tmp_path, **options) for _ in range(2)]
    try:
        wait_until(
            lambda: notif_db["emails"].count_documents({"state": "sent"}) == 90,
            timeout=120,
            what="every email sent by the two replicas",
        )
    finally:
        for proc in replicas:
            kill(proc)
    delivered = Counter(str(m["Message-ID"]) for m in slow_smtp.mail.messages())
    assert len(delivered) == 90
    assert [mid for mid, n in delivered.items() if n > 1] == []
    owners = {doc["owner"] for doc in notif_db["send_attempts"].find({})}
    assert len(owners) == 2  # both replicas did send
    # over several connections at once (the capture records each message's connection)
    assert slow_smtp.max_parallel() > 2
