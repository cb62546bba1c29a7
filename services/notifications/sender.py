"""The outbox sender: queued emails out over SMTP. Plain Python, no nameko.

Per email and attempt n:
1. claim: insert `send_attempts/<email id>:<n>`; the insert that succeeds owns
   attempt n (two sender replicas never send the same email; a stale reader
   tries a number already taken and backs off);
2. record `state: sending` (plain update: records the claim);
3. SMTP transaction over the batch's one connection;
4. record the outcome: `sent` / `failed` through the ledger (email_sent /
   email_failed events), or back to `queued` with a backoff.

Crash window: if the process dies after the SMTP server accepted the DATA and
before step 4's ledger insert (one MongoDB round trip, a few milliseconds per
message), the email stays `sending`; once SENDING_LEASE_SECONDS have passed a
sender claims attempt n+1 and sends it again. The resend is the SAME message
(Message-ID, Date, MIME boundary and body fixed at queue time), so the
receiving side can drop it by Message-ID. At most one message per sender
process can be in that window at a time (the one in flight when it died).
"""
import logging
import os
import socket
import time
from datetime import timedelta
from email.policy import SMTP as SMTP_POLICY  # CRLF line endings on the wire

from services.common import contracts
from services.common.clock import utcnow
from services.common.errors import Conflict
from services.notifications import mail
from services.notifications.logic import backoff, failed_payload, sent_payload

log = logging.getLogger(__name__)


class SenderSettings:
    def __init__(self, config):
        self.smtp = mail.parse_smtp_url(config.get("SMTP_URL") or "smtp://127.0.0.1:1025",
                                        timeout=float(config.get("SMTP_TIMEOUT_SECONDS") or 30))
        self.sender = config.get("SMTP_FROM") or "Villes Internet <label@villes-internet.net>"
        self.batch_size = int(config.get("SMTP_BATCH_SIZE") or 100)
        self.max_batches = int(config.get("SMTP_MAX_BATCHES_PER_RUN") or 50)
        self.backoff_base = float(config.get("SMTP_BACKOFF_SECONDS") or 5)
        self.backoff_cap = float(config.get("SMTP_BACKOFF_MAX_SECONDS") or 900)
        self.lease = timedelta(seconds=float(config.get("SENDING_LEASE_SECONDS") or 120))
        # Test-only fault injection: the process dies right after the Nth message
        # of its life was accepted by the SMTP server (the crash window).
        self.crash_after_accepted = int(config.get("FAULT_CRASH_AFTER_SMTP_ACCEPTED") or 0)


_ACCEPTED_IN_PROCESS = [0]


class Sender:
    def __init__(self, repos, outbox, notifications, settings, connect=mail.connect, now=utcnow,
                 reuse_connection=True):
        self.repos = repos
        self.outbox = outbox  # ledger session: sent / failed carry their events
        self.notifications = notifications  # queues the organisers' alert for a failed result
        self.settings = settings
        self.connect = connect
        self.now = now
        self.reuse = reuse_connection  # False only for the benchmark's baseline
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    def run(self):
        """Send what is due, batch after batch; returns counts by outcome."""
        totals = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
        for _ in range(self.settings.max_batches):
            now = self.now()
            batch = self.repos.emails.stale_sending(now - self.settings.lease, self.settings.batch_size)
            room = self.settings.batch_size - len(batch)
            if room > 0:  # limit(0) would mean "no limit"
                batch += self.repos.emails.due(now, room)
            if not batch:
                break
            counts, server_down = self.send_batch(batch)
            for key, value in counts.items():
                totals[key] += value
            if server_down or counts["sent"] + counts["retry"] + counts["failed"] == 0:
                break
        return totals

    def send_batch(self, batch):
        """One SMTP connection for the whole batch; stops early when the server is unreachable."""
        counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
        client = None
        try:
            for email in batch:
                attempt = email.get("attempts", 0) + 1
                now = self.now()
                if not self.repos.attempts.claim(email["_id"], attempt, self.owner, now):
                    counts["skipped"] += 1  # another sender owns this attempt
                    continue
                self.repos.emails.mark_sending(email["_id"], attempt, self.owner, now)
                try:
                    message = self.message(email)
                    if client is None:
                        client = self.connect(self.settings.smtp)
                    client.sendmail(message["From"].addresses[0].addr_spec, [email["recipient"]],
                                    message.as_bytes(policy=SMTP_POLICY))
                except Exception as exc:  # classified below: retry later or fail for good
                    verdict, reason = mail.classify(exc)
                    connection_lost = not isinstance(exc, (mail.InvalidHeader, mail.smtplib.SMTPResponseException))
                    if connection_lost:
                        mail.close_quietly(client)
                        client = None
                    counts[self.record_failure(email, attempt, verdict, reason)] += 1
                    if connection_lost and verdict == "retry":
                        log.warning("SMTP unreachable (%s): batch stopped, %d left for later",
                                    reason, len(batch) - sum(counts.values()))
                        return counts, True
                    continue
                if not self.reuse:
                    mail.close_quietly(client)
                    client = None
                self.record_sent(email, attempt)
                counts["sent"] += 1
        finally:
            mail.close_quietly(client)
        return counts, False

    def message(self, email):
        msg = mail.build_message(
            sender=self.settings.sender, recipient=email["recipient"],
            recipient_name=email.get("recipient_name") or "", subject=email["subject"],
            text=email["text"], html=email["html"], message_id=email["message_id"], date=email["date"])
        msg.set_boundary(f"=_{email['_id']}")  # a resend is byte-for-byte the same message
        return msg

    # -- outcomes ------------------------------------------------------------

    def record_sent(self, email, attempt):
        if self.settings.crash_after_accepted:
            _ACCEPTED_IN_PROCESS[0] += 1
            if _ACCEPTED_IN_PROCESS[0] >= self.settings.crash_after_accepted:
                log.critical("fault injection: dying after SMTP accepted %s", email["_id"])
                os._exit(71)
        fields = {"state": "sent", "attempts": attempt, "sent_at": self.now(), "last_error": None}
        # The crash window: retry the record rather than leave it to a resend.
        for delay in (0, 0.2, 1, 3):
            time.sleep(delay)
            try:
                self._ledger_update(email["_id"], fields, contracts.EMAIL_SENT, sent_payload)
                break
            except Conflict:
                break  # someone recorded this email's outcome first
            except Exception:
                log.warning("recording %s as sent failed, retrying", email["_id"], exc_info=True)
        self.repos.attempts.record_outcome(email["_id"], attempt, "sent")

    def record_failure(self, email, attempt, verdict, reason):
        self.repos.attempts.record_outcome(email["_id"], attempt, verdict, reason)
        if verdict == "retry" and attempt < email.get("max_attempts", 8):
            next_at = self.now() + backoff(attempt, self.settings.backoff_base, self.settings.backoff_cap)
            self.repos.emails.mark_retry(email["_id"], next_at, reason)
            log.info("email %s attempt %d: %s; retry at %s", email["_id"], attempt, reason, next_at)
            return "retry"
        log.error("email %s failed after %d attempt(s): %s", email["_id"], attempt, reason)
        doc = self._ledger_update(email["_id"], {"state": "failed", "attempts": attempt, "last_error": reason,
                                                 "failed_at": self.now(), "next_attempt_at": None},
                                  contracts.EMAIL_FAILED, failed_payload)
        if doc is not None and doc.get("kind") == "result":
            self.notifications.queue_failure_alert(doc)
        return "failed"

    def _ledger_update(self, email_id, fields, event, payload):
        current = self.repos.emails.get(email_id)
        if current is None:
            return None
        after = dict(current, **fields)
        return self.outbox.update("emails", current, fields, events=[(event, payload(after))])
