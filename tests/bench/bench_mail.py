"""Emails per second the notifications sender hands to a local SMTP server.

Full pipeline: queues N rendered emails in a scratch database, then runs the real sender
(claim, 'sending', SMTP, ledger record + email_sent published to RabbitMQ)
against the capture server `python -m deploy.local.smtp_capture` started on a
free port. Baseline, measured in the same run on another N emails: the same
pipeline opening a new SMTP connection per message. Then the SMTP hand-off
alone (the same messages, no outbox writes), reused vs new connection: on
FerretDB/SQLite each write costs ~20 ms, so the outbox bookkeeping, not SMTP,
bounds the full pipeline.

With --history N (default 5000): a third database first holds N emails
already sent; the sender's poll is timed there and in the empty database, the
old query (a filter on `emails`, which FerretDB/SQLite answers by scanning
every email ever stored) against the send-queue read (`EmailRepository.due`),
then the full pipeline runs on `count` new emails with that history present.

    .venv/bin/python tests/bench/bench_mail.py [--count 300] [--history 5000]
Needs RabbitMQ (AMQP_URI or the default). MongoDB: MONGODB_URI if set, else a
private throw-away FerretDB (var/bin/ferretdb-local, with its `_id` index),
else mongodb://127.0.0.1:27017/.
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.common import topology  # noqa: E402
from services.common.clock import utcnow  # noqa: E402
from services.common.ledger import Ledger  # noqa: E402
from services.common.mongo import make_client  # noqa: E402
from services.common.relay import EventPublisher, OutboxSession, Relay  # noqa: E402
from services.notifications import logic, mail  # noqa: E402
from services.notifications.repository import Repositories, ensure_indexes  # noqa: E402
from services.notifications.sender import Sender  # noqa: E402
from services.notifications.settings import NotificationsSettings, SenderState  # noqa: E402
from tests.support.bench import PrivateFerretDB  # noqa: E402
from tests.support.config import service_config  # noqa: E402
from tests.support.net import free_port, wait_tcp  # noqa: E402


def queue(notifications, count, tag):
    for n in range(count):
        col = {
            "id": f"bench-{tag}-{n}",
            "insee_code": f"{n:05d}",
            "name": f"Commune {tag} {n}",
            "kind": "commune",
            "category": "village",
            "department": "01",
            "region": "Auvergne-Rhône-Alpes",
            "population": 1000,
            "email": f"mairie{n}.{tag}@bench.example.fr",
            "member_communes": [],
        }
        notifications.on_collectivite_registered(
            {
                "event_id": f"bench:{tag}:{n}",
                "event": "collectivite_registered",
                "occurred_at": "2024-01-01T00:00:00+00:00",
                "collectivite": col,
                "access_token": "t",
            }
        )


class ConnectionPerMessage:
    """The baseline's SMTP client: a new connection for every message."""

    def __init__(self, smtp):
        self.smtp = smtp

    def sendmail(self, *args):
        client = mail.connect(self.smtp)
        try:
            return client.sendmail(*args)
        finally:
            mail.close_quietly(client)

    def quit(self):
        pass


def run(db, config, outbox, notifications, count, tag, reuse):
    queue(notifications, count, tag)
    settings = NotificationsSettings.from_config(
        dict(config, SMTP_BATCH_SIZE=100, SMTP_MAX_BATCHES_PER_RUN=10_000)
    )
    connect = mail.connect if reuse else ConnectionPerMessage
    sender = Sender(Repositories(db), outbox, notifications, settings, SenderState(), connect=connect)
    started = time.perf_counter()
    sent = 0
    while sent < count:
        sent += sender.run()["sent"]
    return count / (time.perf_counter() - started)


def add_history(db, count):
    """`count` emails already sent, the size of real ones (rendered text and HTML)."""
    template = db["emails"].find_one({})
    now = utcnow()
    for start in range(0, count, 500):
        db["emails"].insert_many(
            [
                dict(
                    template,
                    _id=f"hist{n:07d}",
                    state="sent",
                    attempts=1,
                    sent_at=now,
                    next_attempt_at=None,
                    message_id=f"<hist{n}@bench>",
                )
                for n in range(start, min(start + 500, count))
            ]
        )


def poll_times(db, batch=100, repeat=5):
    """(old scan query, send-queue read) median seconds for one poll of `batch` due emails."""

    def median(fn):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return sorted(times)[len(times) // 2]

    def old():
        return list(
            db["emails"]
            .find({"state": "queued", "next_attempt_at": {"$lte": utcnow()}})
            .sort("next_attempt_at", 1)
            .limit(batch)
        )

    emails = Repositories(db).emails
    assert len(old()) == len(emails.due(utcnow(), batch))  # the same emails, both ways
    return median(old), median(lambda: emails.due(utcnow(), batch))


def listing_time(db, state="sent"):
    """The gateway's GET /api/v1/outbox?state=...: a filter on `emails` (scans on FerretDB)."""
    started = time.perf_counter()
    rows = Repositories(db).emails.listing(state)
    return time.perf_counter() - started, len(rows)


def handoff_only(db, config, count, reuse):
    """The SMTP hand-off alone (no outbox writes): messages of the outbox, sent."""
    from email.policy import SMTP as SMTP_POLICY

    settings = NotificationsSettings.from_config(config)
    builder = Sender(None, None, None, settings, SenderState())
    docs = list(db["emails"].find({}).limit(count))
    started = time.perf_counter()
    client = None
    for doc in docs:
        if client is None:
            client = mail.connect(settings.smtp)
        msg = builder.message(doc)
        client.sendmail("label@villes-internet.net", [doc["recipient"]], msg.as_bytes(policy=SMTP_POLICY))
        if not reuse:
            mail.close_quietly(client)
            client = None
    mail.close_quietly(client)
    return len(docs) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--history", type=int, default=5000)
    args = parser.parse_args()
    amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    ferret = PrivateFerretDB()
    mongo = ferret.uri
    print(f"MongoDB: {ferret.describe()}", flush=True)
    port = free_port()
    maildir = tempfile.mkdtemp(prefix="bench-mail-")
    smtp = subprocess.Popen(
        [sys.executable, "-m", "deploy.local.smtp_capture", "--port", str(port), "--dir", maildir],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = make_client(mongo)
    dbname = f"bench_{uuid.uuid4().hex[:8]}_notifications"
    try:
        wait_tcp("127.0.0.1", port, timeout=15, what="smtp capture")
        topology.declare_all(amqp)
        config = service_config(
            SMTP_URL=f"smtp://127.0.0.1:{port}", ORGANISER_EMAILS="orga@villes-internet.net", AMQP_URI=amqp
        )
        publisher = EventPublisher(amqp, config)
        rates, polls = {}, {}
        tags = [("baseline", False), ("reused", True)] + ([("history", True)] if args.history else [])
        for tag, reuse in tags:  # a fresh database each: same conditions
            db = client[f"{dbname}_{tag}"]
            ensure_indexes(db)
            ledger = Ledger(db)
            outbox = OutboxSession(ledger, Relay(ledger, publisher))
            settings = NotificationsSettings.from_config(config)
            notifications = logic.Notifications(
                Repositories(db), logic.Renderer(), settings, utcnow(), outbox
            )
            if tag == "history":
                queue(notifications, 1, "template")
                add_history(db, args.history)
                Repositories(db).emails.mark_sent(
                    db["emails"].find_one({"state": "queued"})["_id"], 1, utcnow()
                )
            queue(notifications, 100, f"{tag}-poll")  # one batch due: time the poll over it
            busy = poll_times(db)
            Sender(Repositories(db), outbox, notifications, settings, SenderState()).run()
            polls[tag] = (db["emails"].estimated_document_count(), busy, poll_times(db))  # then nothing due
            rates[tag] = run(db, config, outbox, notifications, args.count, tag, reuse=reuse)
        baseline, reused = rates["baseline"], rates["reused"]
        raw_base = handoff_only(db, config, args.count, reuse=False)
        raw_reused = handoff_only(db, config, args.count, reuse=True)
        for tag, (stored, (busy_old, busy_new), (idle_old, idle_new)) in polls.items():
            print(
                f"sender poll, {stored} emails stored ({tag}): 100 due: "
                f"old scan query {busy_old * 1000:.0f} ms, "
                f"send-queue read {busy_new * 1000:.0f} ms; nothing due (every 0.5 s tick): "
                f"{idle_old * 1000:.0f} ms vs {idle_new * 1000:.1f} ms"
            )
        if args.history:
            seconds, rows = listing_time(db)
            print(
                f"with {args.history} emails already sent: {rates['history']:.1f} emails/s "
                f"(vs {reused:.1f}/s with an empty history; ratio {rates['history'] / reused:.2f}x); "
                f"GET /outbox?state=sent reads {rows} rows in {seconds * 1000:.0f} ms"
            )
        captured = len(list(Path(maildir).glob("*.eml")))
        print(
            f"emails handed to the local SMTP server: {reused:.1f}/s with one reused connection per batch "
            f"(n={args.count})"
        )
        print(
            f"baseline, a new SMTP connection per message: {baseline:.1f}/s; ratio {reused / baseline:.2f}x"
        )
        print(
            f"SMTP hand-off alone (no outbox writes): {raw_reused:.1f}/s reused vs {raw_base:.1f}/s "
            f"new connection per message; ratio {raw_reused / raw_base:.2f}x"
        )
        print(f"captured {captured} messages (expected {2 * args.count + len(tags) * (args.count + 100)})")
    finally:
        for tag in ("baseline", "reused", "history"):
            client.drop_database(f"{dbname}_{tag}")
        smtp.terminate()
        smtp.wait(timeout=10)
        client.close()
        ferret.stop()


if __name__ == "__main__":
    main()
