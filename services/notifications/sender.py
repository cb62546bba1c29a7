"""The outbox sender: queued emails out over SMTP. Plain Python, no nameko.

Per batch (SMTP_BATCH_SIZE emails, read through the send queue):
0. connect first: while the server is unreachable nothing is claimed and no
   email spends an attempt; the sender backs off (doubling, capped) and an
   email still unsent after SMTP_GIVE_UP_HOURS of outage is marked failed;
1. claim the batch: insert `send_attempts/<email id>:<n>` for every email in
   one unordered insert_many; each insert that succeeds owns attempt n, so
   two sender replicas never send the same email (a lost claim is looked at
   alone: rolled forward if sent, taken over if its lease lapsed). A claim is
   a lease of its own (SENDING_LEASE_SECONDS), renewed every third of it, the
   batch's undecided claims in one update, until the email's outcome is
   decided: the tail of a long batch is never left claimed but stale, where
   another replica would take it over;
2. SMTP transactions over SMTP_CONNECTIONS connections in parallel (one
   worker thread each, SMTP only: green threads under nameko);
3. this thread records outcomes as they come, in groups: the accepted ones
   are decided in one insert_many of ledger steps `email-sent:<id>` (each
   uniquely keyed insert decides alone); finisher threads (as many as
   connections) then publish each group's email_sent events, groups in
   parallel; a failure is recorded alone, `failed` through the ledger
   (email_failed) or back to `queued` with a backoff for a transient error;
4. once the batch is out, its sent documents are marked `sent` together
   (one update per queue batch: repository.EmailRepository.mark_sent_many).

Crash window: if the process dies after the SMTP server accepted a message
and before step 3's decision (one insert_many), the email stays queued with
a claim that never got an outcome. Once SENDING_LEASE_SECONDS have passed, a
sender records that attempt as lost and claims the next one: the message is
sent again, and it is the SAME message (Message-ID, Date, MIME boundary and
body fixed at queue time), so the receiving side can drop it by Message-ID.
A worker starts an SMTP transaction only while fewer than SMTP_CONNECTIONS
accepted messages are undecided, so at most SMTP_CONNECTIONS messages per
process (one per connection) are ever in that window; a crash anywhere else
sends nothing twice.
"""

import logging
import os
import queue
import socket
import threading
import time
from contextlib import contextmanager
from email.policy import SMTP as SMTP_POLICY  # CRLF line endings on the wire

from services.common import contracts
from services.common.clock import utcnow
from services.common.errors import Conflict
from services.notifications import mail
from services.notifications.logic import EmailState, backoff, failed_payload, sent_payload

log = logging.getLogger(__name__)
# Waits between tries of recording an accepted email (seconds), then one try
# every RECORD_RETRY_EVERY while the attempt's lease holds: a database outage
# shorter than the lease resends nothing.
RECORD_RETRY_DELAYS = (0, 0.2, 1, 3)
RECORD_RETRY_EVERY = 5.0


class Unfinished:
    """The claimed emails of a batch whose outcome is not decided yet (email id
    -> attempt): the recorder removes, the lease renewer reads (another thread)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._attempts = {}

    def add(self, email_id, attempt):
        with self._lock:
            self._attempts[email_id] = attempt

    def done(self, email_id):
        with self._lock:
            self._attempts.pop(email_id, None)

    def items(self):
        with self._lock:
            return list(self._attempts.items())


class Sender:
    """One run of the sender. `settings` is settings.NotificationsSettings,
    `state` the process's settings.SenderState; `clock` is read again at each
    step (a run may drain many batches), unlike the use cases' single `now`."""

    def __init__(
        self,
        repos,
        outbox,
        notifications,
        settings,
        state,
        connect=mail.connect,
        clock=utcnow,
        sleep=time.sleep,
    ):
        self.repos = repos
        self.outbox = outbox  # ledger session: sent / failed carry their events
        self.notifications = notifications  # queues the organisers' alert for a failed result
        self.settings = settings
        self.state = state
        self.connect = connect
        self.clock = clock
        self.sleep = sleep  # between tries of a record; tests pass their own, never patch `time`
        self.owner = f"{socket.gethostname()}:{os.getpid()}"

    def run(self):
        """Send what is due, batch after batch; returns counts by outcome."""
        totals = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
        for _ in range(self.settings.max_batches):
            if self.state.backing_off(self.clock()):
                break  # backing off while the SMTP server is unreachable
            batch = self.repos.emails.due(self.clock(), self.settings.batch_size)
            if not batch:
                break
            counts, server_down = self.send_batch(batch)
            for key, value in counts.items():
                totals[key] += value
            if server_down or counts["sent"] + counts["retry"] + counts["failed"] == 0:
                break
        return totals

    def send_batch(self, batch):
        """The batch over up to SMTP_CONNECTIONS connections; (counts, server unreachable)."""
        counts = {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
        try:
            first = self.connect(self.settings.smtp)
        except Exception as exc:  # server down: nothing claimed, no attempt spent
            self._outage(mail.classify(exc)[1], batch, counts)
            return counts, True
        self.state.recovered()
        clients = [first]
        unfinished = Unfinished()  # the leases to keep, from the moment they are won
        try:
            with self.renewing(unfinished):
                claimed = self.claim(batch, unfinished)
                counts["skipped"] += len(batch) - len(claimed)
                if claimed:
                    self._send_claimed(claimed, clients, counts, unfinished)
        finally:
            for client in clients:
                mail.close_quietly(client)
        return counts, False

    def _send_claimed(self, claimed, clients, counts, unfinished):
        """Workers (one per connection) hand the claimed emails to SMTP; this
        thread decides the accepted ones in bulk as they come (one ledger step
        each, in one insert_many) and records the failures; finishers (as many)
        then publish and update the documents, by `_id`, in parallel. `window`
        bounds the accepted, undecided messages to one per connection: the
        crash window of the module doc."""
        work = queue.SimpleQueue()
        for item in claimed:
            work.put(item)
        results = queue.SimpleQueue()
        workers = min(self.settings.connections, len(claimed))
        clients.extend([None] * (workers - len(clients)))
        window = threading.Semaphore(workers)
        stop = threading.Event()
        sender = mail.parse_address(self.settings.sender).addr_spec
        threads = [
            threading.Thread(
                target=self._work, args=(clients, n, sender, work, results, window, stop), daemon=True
            )
            for n in range(workers)
        ]
        finishing = queue.SimpleQueue()
        decided = []  # (email, attempt) of every send decided, marked `sent` at the end
        finishers = [
            threading.Thread(target=self._finish, args=(finishing, decided), daemon=True)
            for _ in range(workers)
        ]
        for thread in threads + finishers:
            thread.start()
        try:
            remaining = len(claimed)
            while remaining:
                try:
                    group = [results.get(timeout=1.0)]
                except queue.Empty:
                    if any(thread.is_alive() for thread in threads):
                        continue
                    break  # every worker gone (killed): what is left goes to its lease
                while True:
                    try:
                        group.append(results.get_nowait())
                    except queue.Empty:
                        break
                remaining -= len(group)
                self._outcomes(group, unfinished, window, counts, finishing)
        finally:
            stop.set()
            for _ in finishers:
                finishing.put(None)
            for thread in threads + finishers:
                thread.join()
            self._mark_sent(decided)

    def _finish(self, finishing, decided):
        """What follows a decided group of sends, group after group until None:
        their events published, then the group joins `decided`. A failed publish
        is left to the relay's sweep."""
        while (group := finishing.get()) is not None:
            try:
                self.outbox.publish_many([change for change, _, _ in group if change is not None])
            except Exception:
                ids = ", ".join(email["_id"] for _, email, _ in group)
                log.warning("publishing the sent email(s) %s failed; left to the sweep", ids, exc_info=True)
            decided.extend((email, attempt) for _, email, attempt in group)

    def _mark_sent(self, decided):
        """The batch's decided sends marked `sent`, together. A failure here is
        repaired later: the next claim of such an email rolls it forward."""
        try:
            self.repos.emails.mark_sent_many(decided, self.clock())
        except Exception:
            ids = ", ".join(email["_id"] for email, _ in decided)
            log.warning("marking the sent email(s) %s failed; left to repair", ids, exc_info=True)

    def _work(self, clients, n, sender, work, results, window, stop):
        """One connection's worker: SMTP only, never the database. Each result
        says whether it holds a place of `window` (freed by the recorder)."""
        while not stop.is_set():
            try:
                email, attempt = work.get_nowait()
            except queue.Empty:
                return
            held = False
            try:
                message = self.message(email).as_bytes(policy=SMTP_POLICY)
                while not window.acquire(timeout=0.2):
                    if stop.is_set():
                        return  # claimed, unsent: its lease hands it on
                held = True
                if clients[n] is None:
                    clients[n] = self.connect(self.settings.smtp)
                clients[n].sendmail(sender, [email["recipient"]], message)
            except Exception as exc:  # classified by the recorder: retry later or fail for good
                if not isinstance(exc, (mail.InvalidHeader, mail.smtplib.SMTPResponseException)):
                    mail.close_quietly(clients[n])  # connection lost: reconnect for the next one
                    clients[n] = None
                results.put((email, attempt, exc, held))
                continue
            results.put((email, attempt, None, held))

    def _outcomes(self, group, unfinished, window, counts, finishing):
        """Record the failures of `group`, decide its accepted emails (then free
        their workers' window) and hand them to the finishers."""
        accepted = [(email, attempt) for email, attempt, exc, _ in group if exc is None]
        for email, attempt, exc, held in group:
            if exc is not None:
                if held:
                    window.release()
                unfinished.done(email["_id"])
                verdict, reason = mail.classify(exc)
                counts[self.record_failure(email, attempt, verdict, reason)] += 1
        if not accepted:
            return
        self._crash_injection(len(accepted))
        changes = {change["doc_id"]: change for change in self._decide_sent(accepted)}
        for email, _ in accepted:
            unfinished.done(email["_id"])
            window.release()
        finishing.put(
            [(changes.get(f"email-sent:{email['_id']}"), email, attempt) for email, attempt in accepted]
        )
        counts["sent"] += len(accepted)

    @contextmanager
    def renewing(self, unfinished):
        """Keeps the leases of the claimed emails not yet decided fresh while the
        batch goes out (`unfinished`: email id -> attempt, shrinking)."""
        stop = threading.Event()
        period = max(self.settings.lease.total_seconds() / 3, 0.05)

        def beat():
            while not stop.wait(period):
                try:
                    self.repos.attempts.renew(unfinished.items(), self.owner, self.clock())
                except Exception:  # the leases may lapse; the sends themselves go on
                    log.warning("renewing the leases of a batch failed", exc_info=True)

        thread = threading.Thread(target=beat, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def claim(self, batch, unfinished=None):
        """[(email, attempt)] this sender now owns: one insert_many claims them
        all (each insert decides alone); a lost claim is looked at one by one.
        Each lease won goes into `unfinished` at once: looking at the lost ones
        takes database round trips, long enough for a short lease to lapse."""
        now = self.clock()
        wanted = [(email["_id"], email.get("attempts", 0) + 1) for email in batch]
        won = self.repos.attempts.claim_many(wanted, self.owner, now)
        if unfinished is not None:
            for pair in won:
                unfinished.add(*pair)
        owned = []
        for email, pair in zip(batch, wanted, strict=True):
            claimed = (email, pair[1]) if pair in won else self._contested(email, pair[1], now)
            if claimed is not None:
                owned.append(claimed)
                if unfinished is not None:
                    unfinished.add(email["_id"], claimed[1])
        return owned

    def _contested(self, email, attempt, now):
        """Attempt `attempt` was claimed by someone else: roll a decided send
        forward, take a lost attempt over, else leave it."""
        if self.repos.decided(f"email-sent:{email['_id']}"):
            # sent, then the sender died before updating the document: roll forward
            self.repos.emails.mark_sent(email["_id"], attempt, now)
        elif self._lost(email, attempt, now):
            # the claimer died (or hung past the lease) mid-send: record that
            # attempt as lost and take the next one; the resend is the same message
            self.repos.emails.mark_retry(email["_id"], now, "tentative interrompue", attempts=attempt)
            if self.repos.attempts.claim(email["_id"], attempt + 1, self.owner, now):
                return dict(email, attempts=attempt), attempt + 1
        return None

    def _lost(self, email, attempt, now):
        claim = self.repos.attempts.get(email["_id"], attempt)
        return (
            claim is not None and not claim.get("outcome") and claim["claimed_at"] < now - self.settings.lease
        )

    def _outage(self, reason, batch, counts):
        now = self.clock()
        state = self.state
        state.failures += 1
        state.since = state.since or now
        state.until = now + backoff(state.failures, self.settings.backoff_base, self.settings.backoff_cap)
        log.warning("SMTP unreachable (%s); next try at %s", reason, state.until)
        too_old = [e for e in batch if (e.get("resent_at") or e["created_at"]) < now - self.settings.give_up]
        for email, attempt in self.claim(too_old):
            counts[self.record_failure(email, attempt, "fail", f"serveur SMTP injoignable : {reason}")] += 1

    def message(self, email):
        return mail.build_message(
            sender=self.settings.sender,
            recipient=email["recipient"],
            recipient_name=email.get("recipient_name") or "",
            subject=email["subject"],
            text=email["text"],
            html=email["html"],
            message_id=email["message_id"],
            date=email["date"],
            boundary=f"=_{email['_id']}",  # a resend is byte-for-byte the same message
        )

    # -- outcomes ------------------------------------------------------------

    def _crash_injection(self, accepted):
        if self.settings.crash_after_accepted:
            self.state.accepted += accepted
            if self.state.accepted >= self.settings.crash_after_accepted:
                log.critical("fault injection: dying after SMTP accepted %d message(s)", self.state.accepted)
                os._exit(71)

    def _decide_sent(self, accepted):
        """The ledger steps `email-sent:<id>` of [(email, attempt)] accepted by
        SMTP, in one insert_many (retried: the crash window closes with it);
        returns the changes decided here, to publish."""
        steps = [
            (f"email-sent:{email['_id']}", [(contracts.EMAIL_SENT, sent_payload(email))])
            for email, _ in accepted
        ]
        for delay in self._record_delays():
            self.sleep(delay)
            try:
                return self._record_many(steps)
            except Exception:
                log.warning("recording %d sent email(s) failed, retrying", len(steps), exc_info=True)
                try:  # still ours: keep the leases while the database lets us
                    pairs = [(email["_id"], attempt) for email, attempt in accepted]
                    self.repos.attempts.renew(pairs, self.owner, self.clock())
                except Exception:
                    pass
        # Never "sent" without its record and its event: this run stops as a
        # crash would, and the emails' leases hand them to a later run (the
        # same messages, byte for byte: the crash window of the module doc).
        ids = ", ".join(email["_id"] for email, _ in accepted)
        raise RuntimeError(f"email(s) {ids} accepted by SMTP but not recorded; left to their lease")

    def _record_many(self, steps):
        """Decided changes (a step decided before, by a retry of this very
        record, is already on its way: nothing to publish for it)."""
        decided, _ = self.outbox.record_many(steps)
        return decided

    def _record_delays(self):
        """RECORD_RETRY_DELAYS, then RECORD_RETRY_EVERY until 80 % of the lease
        (renewed last when the SMTP transaction ended) is spent: past the lease,
        another sender may take the attempt over."""
        started = time.monotonic()
        limit = 0.8 * self.settings.lease.total_seconds()
        yield from RECORD_RETRY_DELAYS
        budget = limit - sum(RECORD_RETRY_DELAYS)  # a try itself may wait for the database too:
        while budget >= RECORD_RETRY_EVERY and time.monotonic() - started + RECORD_RETRY_EVERY < limit:
            budget -= RECORD_RETRY_EVERY
            yield RECORD_RETRY_EVERY

    def record_failure(self, email, attempt, verdict, reason):
        self.repos.attempts.record_outcome(email["_id"], attempt, verdict, reason)
        if verdict == "retry" and attempt < email.get("max_attempts", self.settings.max_attempts):
            next_at = self.clock() + backoff(attempt, self.settings.backoff_base, self.settings.backoff_cap)
            self.repos.emails.mark_retry(email["_id"], next_at, reason, attempts=attempt)
            log.info("email %s attempt %d: %s; retry at %s", email["_id"], attempt, reason, next_at)
            return "retry"
        log.error("email %s failed after %d attempt(s): %s", email["_id"], attempt, reason)
        doc = dict(email, state=EmailState.FAILED, attempts=attempt, last_error=reason)
        self._record(f"email-failed:{email['_id']}:{attempt}", contracts.EMAIL_FAILED, failed_payload(doc))
        self.repos.emails.mark_failed(email["_id"], attempt, reason, self.clock())
        if doc.get("kind") == "result":
            self.notifications.queue_failure_alert(doc)
        return "failed"

    def _record(self, key, event, payload):
        """The ledger's uniquely keyed step decides the outcome and carries its event;
        the email document then records it (a plain update by _id: cheap on FerretDB)."""
        try:
            self.outbox.record(key, [(event, payload)])
        except Conflict:
            pass  # already decided (a retry of this very record)
