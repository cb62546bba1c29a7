"""Emails per second the notifications sender hands to a local SMTP server.

Full pipeline: queues N rendered emails in a scratch database, then runs the real sender
(claim, 'sending', SMTP, ledger record + email_sent published to RabbitMQ)
against the capture server `python -m deploy.local.smtp_capture` started on a
free port. Baseline, measured in the same run on another N emails: the same
pipeline opening a new SMTP connection per message. Then the SMTP hand-off
alone (the same messages, no outbox writes), reused vs new connection: on
FerretDB/SQLite each write costs ~20 ms, so the outbox bookkeeping, not SMTP,
bounds the full pipeline.

    .venv/bin/python tests/bench/bench_mail.py [--count 300]
Needs RabbitMQ and MongoDB/FerretDB (AMQP_URI, MONGODB_URI or the defaults).
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
from services.common.ledger import Ledger  # noqa: E402
from services.common.mongo import make_client  # noqa: E402
from services.common.relay import EventPublisher, OutboxSession, Relay  # noqa: E402
from services.notifications import logic  # noqa: E402
from services.notifications.repository import Repositories, ensure_indexes  # noqa: E402
from services.notifications.sender import Sender, SenderSettings  # noqa: E402
from tests.support.net import free_port, wait_tcp  # noqa: E402


def queue(notifications, count, tag):
    for n in range(count):
        col = {"id": f"bench-{tag}-{n}", "insee_code": f"{n:05d}", "name": f"Commune {tag} {n}",
               "kind": "commune", "category": "village", "department": "01", "region": "Auvergne-Rhône-Alpes",
               "population": 1000, "email": f"mairie{n}.{tag}@bench.example.fr", "member_communes": []}
        notifications.on_collectivite_registered({
            "event_id": f"bench:{tag}:{n}", "event": "collectivite_registered",
            "occurred_at": "2024-01-01T00:00:00+00:00", "collectivite": col, "access_token": "t"})


def run(db, config, outbox, notifications, count, tag, reuse):
    queue(notifications, count, tag)
    settings = SenderSettings(dict(config, SMTP_BATCH_SIZE=100, SMTP_MAX_BATCHES_PER_RUN=10_000))
    sender = Sender(Repositories(db), outbox, notifications, settings, reuse_connection=reuse)
    started = time.perf_counter()
    sent = 0
    while sent < count:
        sent += sender.run()["sent"]
    return count / (time.perf_counter() - started)


def handoff_only(db, config, count, reuse):
    """The SMTP hand-off alone (no outbox writes): messages of the outbox, sent."""
    from email.policy import SMTP as SMTP_POLICY
    from services.notifications import mail
    settings = SenderSettings(config)
    builder = Sender(None, None, None, settings)
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
    args = parser.parse_args()
    amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    mongo = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    port = free_port()
    maildir = tempfile.mkdtemp(prefix="bench-mail-")
    smtp = subprocess.Popen([sys.executable, "-m", "deploy.local.smtp_capture", "--port", str(port),
                             "--dir", maildir], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = make_client(mongo)
    dbname = f"bench_{uuid.uuid4().hex[:8]}_notifications"
    try:
        wait_tcp("127.0.0.1", port, timeout=15, what="smtp capture")
        topology.declare_all(amqp)
        config = {"SMTP_URL": f"smtp://127.0.0.1:{port}", "ORGANISER_EMAILS": "orga@villes-internet.net",
                  "AMQP_URI": amqp}
        publisher = EventPublisher(amqp, config)
        rates = {}
        for tag, reuse in (("baseline", False), ("reused", True)):  # a fresh database each: same conditions
            db = client[f"{dbname}_{tag}"]
            ensure_indexes(db)
            ledger = Ledger(db)
            outbox = OutboxSession(ledger, Relay(ledger, publisher))
            notifications = logic.Notifications(Repositories(db), logic.Renderer(), config, outbox=outbox)
            rates[tag] = run(db, config, outbox, notifications, args.count, tag, reuse=reuse)
        baseline, reused = rates["baseline"], rates["reused"]
        raw_base = handoff_only(db, config, args.count, reuse=False)
        raw_reused = handoff_only(db, config, args.count, reuse=True)
        captured = len(list(Path(maildir).glob("*.eml")))
        print(f"emails handed to the local SMTP server: {reused:.1f}/s with one reused connection per batch "
              f"(n={args.count})")
        print(f"baseline, a new SMTP connection per message: {baseline:.1f}/s; ratio {reused / baseline:.2f}x")
        print(f"SMTP hand-off alone (no outbox writes): {raw_reused:.1f}/s reused vs {raw_base:.1f}/s "
              f"new connection per message; ratio {raw_reused / raw_base:.2f}x")
        print(f"captured {captured} messages (expected {4 * args.count})")
    finally:
        for tag in ("baseline", "reused"):
            client.drop_database(f"{dbname}_{tag}")
        smtp.terminate()
        smtp.wait(timeout=10)


if __name__ == "__main__":
    main()
