"""Emails per second the notifications sender hands to a local SMTP server.

Full pipeline: queues N rendered emails in a scratch database, then runs the real sender
(claim, 'sending', SMTP, ledger record + email_sent published to RabbitMQ)
against the capture server `python -m deploy.local.smtp_capture` started on a
free port. Baseline, measured in the same run on another N emails: the same
pipeline opening a new SMTP connection per message. Then the SMTP hand-off
alone (the same messages, no outbox writes), reused vs new connection: on
FerretDB/SQLite each write costs ~20 ms, so the outbox bookkeeping, not SMTP,
bounds the full pipeline.

With --connections N (default: SMTP_CONNECTIONS of deploy/config.yaml): the
sender runs with SMTP_CONNECTIONS=N, and the hand-off alone is measured over
N parallel connections too; the ratio full pipeline / hand-off is printed.

With --results: the emails are result emails queued as a release queues them
(results_released, then award_decided in INBOX_BATCH_SIZE batches: one queue
batch each), instead of one welcome email per collectivité_registered.

With --history N (default 5000): a third database first holds N emails
already sent; the sender's poll is timed there and in the empty database, the
old query (a filter on `emails`, which FerretDB/SQLite answers by scanning
every email ever stored) against the send-queue read (`EmailRepository.due`),
then the full pipeline runs on `count` new emails with that history present.

    .venv/bin/python tests/bench/bench_mail.py [--count 300] [--history 5000] [--connections 4] [--results]
Needs RabbitMQ (AMQP_URI or the default). MongoDB: MONGODB_URI if set, else a
private throw-away FerretDB (tests/support/ferretdb.py, on FERRETDB_BACKEND),
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
from tests.support.config import service_config  # noqa: E402
from tests.support.ferretdb import private_ferretdb  # noqa: E402
from tests.support.net import free_port, wait_tcp  # noqa: E402


def collectivite(n, tag):
    return {
        "id": f"bench-{tag}-{n}",
        "insee_code": f"{n:05d}",
        "name": f"Commune {tag} {n}",
        "kind": "commune",
        "category": "village",
        "department": "01",
        "region": "Auvergne-Rhône-Alpes",
        "population": 1000,
        "email": f"mairie{n}.{tag}@bench.example.fr",
    }


def queue(notifications, count, tag):
    for n in range(count):
        col = dict(collectivite(n, tag), member_communes=[])
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


def queue_results(notifications, count, tag, batch_size, year=2031):
    """Result emails queued as a release queues them: results_released, then
    award_decided in the batches the service takes them (INBOX_BATCH_SIZE)."""
    envelope = {"occurred_at": "2031-12-12T18:00:00+00:00"}
    notifications.on_results_released(
        dict(
            envelope,
            event_id=f"bench:{tag}:released",
            event="results_released",
            campaign_year=year,
            released_at="2031-12-12T18:00:00+00:00",
            released_by="admin",
            labelled_count=count,
            pending=[],
        )
    )
    for start in range(0, count, batch_size):
        notifications.on_awards_decided(
            [
                dict(
                    envelope,
                    event_id=f"bench:{tag}:award:{n}",
                    event="award_decided",
                    campaign_year=year,
                    application_id=f"app-{tag}-{n}",
                    collectivite=collectivite(n, tag),
                    arobases=3,
                    mentions=[],
                    progression="new",
                    previous_arobases=None,
                    ceremony_at="2031-12-12T17:00:00+00:00",
                    ceremony_place="Lille Grand Palais",
                )
                for n in range(start, min(start + batch_size, count))
            ]
        )


def run(db, config, outbox, notifications, count, tag, reuse, results=False):
    if results:
        queue_results(notifications, count, tag, int(config["INBOX_BATCH_SIZE"]))
    else:
        queue(notifications, count, tag)
    settings = NotificationsSettings.from_config(dict(config, SMTP_MAX_BATCHES_PER_RUN=10_000))
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


def handoff_only(db, config, count, reuse, connections=1):
    """The SMTP hand-off alone (no outbox writes): messages of the outbox, sent
    over `connections` parallel connections (green threads, as in the service)."""
    from email.policy import SMTP as SMTP_POLICY

    settings = NotificationsSettings.from_config(config)
    builder = Sender(None, None, None, settings, SenderState())
    docs = list(db["emails"].find({}).limit(count))

    def send(share):
        client = None
        for doc in share:
            if client is None:
                client = mail.connect(settings.smtp)
            msg = builder.message(doc)
            client.sendmail("label@villes-internet.net", [doc["recipient"]], msg.as_bytes(policy=SMTP_POLICY))
            if not reuse:
                mail.close_quietly(client)
                client = None
        mail.close_quietly(client)

    started = time.perf_counter()
    pool = eventlet.GreenPool(connections)
    for n in range(connections):
        pool.spawn(send, docs[n::connections])
    pool.waitall()
    return len(docs) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--history", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=None, help="SMTP_CONNECTIONS (default: config)")
    parser.add_argument(
        "--results", action="store_true", help="queue result emails as a release does (award_decided batches)"
    )
    args = parser.parse_args()
    amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    mongo, ferret = private_ferretdb()
    print(f"MongoDB: {mongo}{f' (private {ferret.describe()})' if ferret else ''}", flush=True)
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
        if args.connections:
            config["SMTP_CONNECTIONS"] = args.connections
        connections = int(config.get("SMTP_CONNECTIONS") or 1)
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
            rates[tag] = run(db, config, outbox, notifications, args.count, tag, reuse, args.results)
        baseline, reused = rates["baseline"], rates["reused"]
        raw_base = handoff_only(db, config, args.count, reuse=False)
        raw_reused = handoff_only(db, config, args.count, reuse=True)
        raw_parallel = handoff_only(db, config, args.count, reuse=True, connections=connections)
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
            f"emails handed to the local SMTP server: {reused:.1f}/s, connections reused within a batch "
            f"(n={args.count})"
        )
        print(
            f"baseline, a new SMTP connection per message: {baseline:.1f}/s; ratio {reused / baseline:.2f}x"
        )
        print(
            f"SMTP hand-off alone (no outbox writes): {raw_reused:.1f}/s reused vs {raw_base:.1f}/s "
            f"new connection per message; ratio {raw_reused / raw_base:.2f}x"
        )
        print(
            f"with {connections} SMTP connection(s): full pipeline {reused:.1f}/s vs SMTP hand-off alone "
            f"{raw_parallel:.1f}/s over {connections} connection(s); ratio {reused / raw_parallel:.2f}"
        )
        notices = len(tags) if args.results else 0  # each release's notice to the organisers
        expected = 3 * args.count + len(tags) * (args.count + 100) + notices
        print(f"captured {captured} messages (expected {expected})")
    finally:
        for tag in ("baseline", "reused", "history"):
            client.drop_database(f"{dbname}_{tag}")
        smtp.terminate()
        smtp.wait(timeout=10)
        if ferret is not None:
            client.close()
            ferret.close()


if __name__ == "__main__":
    main()
