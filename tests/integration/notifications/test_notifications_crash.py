"""The notifications service as a real process (`nameko run`), killed mid-batch
and restarted: every email arrives once (by Message-ID, the dedupe key a
receiver applies to a resend of the crash window). Campaign years 2410-2419."""

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.notifications.helpers import SmtpServer, registered
from tests.support.api import wait_until

ROOT = Path(__file__).resolve().parents[3]
NAMEKO = Path(sys.executable).with_name("nameko")
CONNECTIONS = 3  # SMTP_CONNECTIONS of the killed process: one message per connection in the crash window


@pytest.fixture
def slow_smtp(tmp_path):
    server = SmtpServer(tmp_path / "mail", delay=0.03)  # a batch takes seconds: room to kill mid-way
    server.start()
    yield server
    server.stop()


def start_service(config, smtp, tmp_path, **extra):
    env = dict(
        os.environ,
        AMQP_URI=config["AMQP_URI"],
        MONGODB_URI=config["MONGODB_URI"],
        MONGODB_DATABASE_PREFIX=config["MONGODB_DATABASE_PREFIX"],
        SMTP_URL=smtp.url,
        ORGANISER_EMAILS="orga@villes-internet.net",
        SENDING_LEASE_SECONDS="3",
        OUTBOX_SWEEP_SECONDS="0.5",
        SMTP_BATCH_SIZE="50",
        LOG_LEVEL="INFO",
    )
    env.update({k: str(v) for k, v in extra.items()})  # a test's own values win
    log = open(tmp_path / "notifications.log", "ab")
    proc = subprocess.Popen(
        [
            str(NAMEKO),
            "run",
            "--config",
            "deploy/config.yaml",
            "services.notifications.service:NotificationsService",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc


def kill(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def assert_every_email_once(smtp, events):
    messages = smtp.mail.messages()
    by_id = Counter(str(m["Message-ID"]) for m in messages)
    assert len(by_id) == len(events)
    recipients = {str(m["To"].addresses[0].addr_spec) for m in messages}
    assert recipients == {e["collectivite"]["email"] for e in events}
    return messages, by_id


def test_killed_mid_batch_and_restarted_sends_every_email_once(
    config, slow_smtp, notif_db, dispatch, tmp_path
):
    events = [registered(n, 2410, "crash") for n in range(120)]
    for event in events:  # queued in RabbitMQ until the service starts
        dispatch("submissions", "collectivite_registered", event)
    proc = start_service(config, slow_smtp, tmp_path, SMTP_CONNECTIONS=CONNECTIONS)
    try:
        wait_until(lambda: slow_smtp.mail.count() >= 20, timeout=60, what="the first emails")
        kill(proc)  # SIGKILL mid-batch
        arrived = slow_smtp.mail.count()
        assert arrived < 120, "killed too late to be mid-batch"
        proc = start_service(config, slow_smtp, tmp_path)
        wait_until(
            lambda: notif_db["emails"].count_documents({"state": "sent"}) == 120,
            timeout=120,
            what="every email sent after the restart",
        )
    finally:
        kill(proc)
    messages, by_id = assert_every_email_once(slow_smtp, events)
    # at most the message in flight on each connection at the kill may have been sent twice, identically
    assert len(messages) - len(by_id) <= CONNECTIONS
    assert notif_db["emails"].count_documents({}) == 120


def test_crash_right_after_the_smtp_server_accepted_resends_the_same_message(
    config, smtp, notif_db, dispatch, tmp_path
):
    """The crash window itself (fault injection): the SAME message is sent again."""
    events = [registered(n, 2411, "window") for n in range(3)]
    for event in events:
        dispatch("submissions", "collectivite_registered", event)
    # one connection: the 2nd message is the one in the window (the kill test above has several)
    proc = start_service(config, smtp, tmp_path, FAULT_CRASH_AFTER_SMTP_ACCEPTED=2, SMTP_CONNECTIONS=1)
    try:
        assert proc.wait(timeout=60) == 71  # died after the 2nd message was accepted
        assert smtp.mail.count() == 2
        proc = start_service(config, smtp, tmp_path)
        wait_until(
            lambda: notif_db["emails"].count_documents({"state": "sent"}) == 3,
            timeout=60,
            what="every email sent after the restart",
        )
    finally:
        kill(proc)
    messages, by_id = assert_every_email_once(smtp, events)
    [(dup_id, copies)] = [(mid, n) for mid, n in by_id.items() if n > 1]
    assert copies == 2 and len(messages) == 4
    bodies = {m.get_body(("plain",)).get_content() for m in messages if str(m["Message-ID"]) == dup_id}
    assert len(bodies) == 1  # byte-for-byte the same text: a receiver dedupes it by Message-ID
