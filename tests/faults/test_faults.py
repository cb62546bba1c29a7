"""The fault suite: the whole system as real processes (tests/support/stack.py)
on the suite's own RabbitMQ and FerretDB (backends.py), a workload of
applications moving through the lifecycle (workload.py), one fault injected
while it runs; then what should exist is compared with what does: every
application submitted, one proposal each, one result email per labelled
collectivité and none before the release, every event handled (no dead
letter left), nothing twice (but for the sender's documented crash window
after a kill -9: README.md). `make faults` runs every scenario with 200
applications; `make test` a short form (fewer applications, shorter outages).
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from kombu import Connection, Exchange

from deploy.local import procs
from services.common import contracts
from tests.faults.conftest import FULL
from tests.faults.workload import DEPARTMENTS, Workload
from tests.support.api import wait_until
from tests.support.config import service_config
from tests.support.stack import Stack, _venv_bin

pytestmark = pytest.mark.timeout(1200)

COUNT = 200 if FULL else 24
ENV = {
    "CLAIM_LEASE_SECONDS": "20",  # a claim lost with its answer returns to the pool
    "SENDING_LEASE_SECONDS": "60",  # outlasts the 30 s database outage (production: 120)
    "SMTP_BACKOFF_SECONDS": "1",
    "SMTP_BACKOFF_MAX_SECONDS": "4",
    "SMTP_MAX_ATTEMPTS": "30",
    "OUTBOX_SWEEP_SECONDS": "1",
    "INBOX_BACKOFF_SECONDS": "0.5",
    "ORGANISER_EMAILS": "orga@pannes.example.fr",
    "LOG_LEVEL": "INFO",
}


class Supervisor:
    """Restarts a service process that exited on its own, as supervisord
    (deploy/local/procs.py: autorestart) and docker compose (restart:
    unless-stopped) do in deployment: nameko stops a container whose worker
    could not send its RPC reply while the broker was gone. Counts restarts."""

    def __init__(self, stack):
        self.stack = stack
        self.restarts: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=120)

    def _watch(self):
        while not self._stop.wait(0.5):
            for name, proc in list(self.stack._procs.items()):
                if proc.poll() is not None and self.stack._procs.get(name) is proc:
                    self.restarts[name] += 1
                    self.stack._procs.pop(name, None)
                    try:
                        self.stack.start(name)
                    except Exception:  # tried again at the next round, as supervisord would
                        pass


class Fault:
    """The fault's thread: waits for a moment of the workload, breaks something,
    repairs it, and notes when the repair was done (the recovery clock starts)."""

    def __init__(self, stack, workload, backends):
        self.stack, self.workload, self.backends = stack, workload, backends
        self.repaired_at: float | None = None
        self.error: BaseException | None = None

    def when(self, predicate, what, timeout=600):
        wait_until(predicate, timeout=timeout, interval=0.2, what=what)

    def submitted(self, share):
        self.when(lambda: self.workload.progress["submitted"] >= self.workload.count * share, "submissions")

    def reviewed(self, share):
        self.when(lambda: self.workload.progress["reviewed"] >= self.workload.count * share, "reviews")

    def release_mails(self, at_least=1):
        def started():
            return self.workload.released_at is not None and self.workload.result_mails() >= at_least

        self.when(started, "the first result emails")

    def repaired(self):
        self.repaired_at = time.monotonic()


def run_scenario(
    name,
    backends,
    table,
    inject,
    stack_options=None,
    extra_env=None,
    year=2101,
    check=None,
    workload_options=None,
):
    """`check(stack, workload)`, if given, adds its own {"lost": {...}, "duplicated": {...}}
    and may add to the work column ({"work": " · ..."})."""
    stack = Stack(
        backends.rabbit.amqp_uri,
        backends.ferret.uri,
        rabbit_api=backends.rabbit.api,
        extra_env={**ENV, **(extra_env or {})},
        **(stack_options or {}),
    )
    stack.start_all()
    extra: list[subprocess.Popen] = []
    extra_work = ""
    try:
        workload = Workload(stack, COUNT, year=year, **(workload_options or {}))
        workload.setup()
        fault = Fault(stack, workload, backends)
        fault.extra = extra

        def body():
            try:
                inject(fault)
            except BaseException as exc:  # re-raised in the test
                fault.error = exc
            finally:
                if fault.repaired_at is None:
                    fault.repaired()

        thread = threading.Thread(target=body, daemon=True)
        with Supervisor(stack) as supervisor:
            thread.start()
            workload.run()
            thread.join(timeout=600)
            if fault.error is not None:
                raise fault.error
            outcome = workload.wait_converged(timeout=400)
            recover = time.monotonic() - fault.repaired_at if outcome.lost_total == 0 else float("nan")
            # a last look after the dust settles: nothing arrives twice late
            time.sleep(3)
            outcome = workload.check()
        if check is not None:
            more = check(stack, workload)
            outcome.lost.update(more.get("lost", {}))
            outcome.duplicated.update(more.get("duplicated", {}))
            extra_work = more.get("work", "")
    finally:
        for proc in extra:
            _kill(proc)
        stack.stop_all()
    table.append(
        {
            "scenario": name,
            "work": outcome.work() + extra_work + _restarts(supervisor.restarts),
            "lost": outcome.lost_total,
            "duplicated": outcome.duplicated_total,
            "recover": recover,
        }
    )
    assert outcome.lost == {k: 0 for k in outcome.lost}, outcome
    assert outcome.duplicated == {k: 0 for k in outcome.duplicated}, outcome
    kills = sum(1 for service, _ in stack.killed if service == "notifications")
    assert outcome.resent_after_kill <= kills * int(service_config(stack.env)["SMTP_CONNECTIONS"]), outcome
    assert outcome.early == 0
    accepted = COUNT - outcome.done["refused"]
    assert outcome.done["applications"] == outcome.done["proposals"] == accepted
    assert outcome.done["mails"] == 3 * accepted - len(workload.excused)


def _reads(latencies, seconds):
    """The visitors' side of a scenario: how many reads, how fast they came back."""
    if not latencies:
        return " · no read answered"
    ordered = sorted(latencies)
    median, p99 = statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f" · {len(ordered)} reads at {len(ordered) / seconds:.0f}/s,"
        f" median {median * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )


def _restarts(restarts):
    if not restarts:
        return ""
    return " · restarted by the supervisor: " + ", ".join(f"{n}×{k}" for k, n in sorted(restarts.items()))


def spawn_replica(stack, name):
    """A second notifications process on the same queues and database."""
    log = open(stack.log_dir / f"{name}.log", "ab")
    proc = subprocess.Popen(
        [_venv_bin("nameko"), "run", "--config", procs.CONFIG, procs.services(stack.env)["notifications"]],
        cwd=Path(__file__).resolve().parents[2],
        env=stack.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    return proc


def _kill(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


# -- scenarios, in the priority order --------------------------------------


@pytest.mark.skipif(not FULL, reason="make faults (five restarts take longer than CI's budget)")
def test_kill_9_of_each_service_mid_work_then_restart(backends, table):
    def inject(fault):
        stack = fault.stack
        for service, moment in (
            ("submissions", lambda: fault.submitted(0.2)),
            ("gateway", lambda: fault.submitted(0.5)),
            ("jury", lambda: fault.reviewed(0.2)),
            ("awards", lambda: fault.reviewed(0.6)),
            ("notifications", lambda: fault.release_mails(COUNT // 4)),
        ):
            moment()
            stack.kill(service)
            time.sleep(1)
            stack.start(service)
        fault.repaired()

    run_scenario("kill -9 of each service, restart", backends, table, inject, year=2101)


def test_two_notification_replicas_send_the_same_release(backends, table):
    def inject(fault):
        fault.extra.append(spawn_replica(fault.stack, "notifications-2"))
        fault.repaired()

    run_scenario(
        "two notification replicas, slow SMTP",
        backends,
        table,
        inject,
        stack_options={"smtp_args": ("--delay", "0.06")},
        extra_env={"SENDING_LEASE_SECONDS": "1"},  # every batch outlasts the lease
        year=2111,
    )


def test_smtp_refusing_then_unreachable_during_the_release_mails(backends, table, tmp_path):
    refuse = tmp_path / "refuse"
    outage = 60 if FULL else 8

    def inject(fault):
        fault.release_mails(COUNT // 10)
        refuse.touch()  # 451 to every recipient
        time.sleep(10 if FULL else 4)
        refuse.unlink()
        fault.stack.smtp_stop()  # unreachable
        time.sleep(outage)
        fault.stack.smtp_start()
        fault.repaired()

    run_scenario(
        f"SMTP 4xx then unreachable {outage} s",
        backends,
        table,
        inject,
        stack_options={"smtp_args": ("--refuse-while", str(refuse))},
        year=2104,
    )


@pytest.mark.skipif(not FULL, reason="make faults")
def test_rabbitmq_stopped_and_restarted_under_the_stack(backends, table):
    def inject(fault):
        fault.submitted(0.4)
        backends.rabbit.stop()
        time.sleep(15)
        backends.rabbit.start()
        fault.repaired()

    run_scenario("RabbitMQ stopped 15 s, restarted", backends, table, inject, year=2102)


@pytest.mark.skipif(not FULL, reason="make faults")
def test_the_database_stopped_30_s_and_restarted(backends, table):
    def inject(fault):
        fault.reviewed(0.3)
        backends.ferret.stop_database()  # FerretDB, and PostgreSQL under it if that is the backend
        time.sleep(30)
        backends.ferret.start_database()
        fault.repaired()

    run_scenario("database stopped 30 s, restarted", backends, table, inject, year=2103)


@pytest.mark.skipif(not FULL, reason="make faults")
def test_every_event_delivered_again_twice_and_shuffled(backends, table):
    """Every event the services ever published, republished twice in a random
    order (a result before its release, a submission after its review...)
    while the release mails go out: each consumer handles each event once."""

    def inject(fault):
        fault.release_mails(COUNT // 4)
        events = []
        for service in ("submissions", "jury", "awards", "notifications"):
            changes = fault.stack.mongo(service)["changes"].find(
                {"events.0": {"$exists": True}}, {"events": 1}
            )
            events.extend(event for change in changes for event in change["events"])
        doubled = events * 2
        random.Random(6).shuffle(doubled)
        with Connection(fault.stack.amqp_uri, transport_options={"confirm_publish": True}) as connection:
            producer = connection.Producer()
            for event in doubled:
                producer.publish(
                    event["payload"],
                    exchange=Exchange(f"{event['source']}.events", type="topic", durable=True),
                    routing_key=event["name"],
                    serializer="json",
                    delivery_mode=2,
                )
        fault.republished = len(doubled)
        fault.repaired()

    run_scenario("every event twice, shuffled", backends, table, inject, year=2106)


@pytest.mark.skipif(not FULL, reason="make faults")
def test_fifty_claimers_when_the_leases_expire(backends, table):
    """50 more jurors each claim a task and walk away; at the moment their
    leases run out they all claim again at once, with the workload's jurors
    still reviewing; then they review what they hold. One review per task,
    one proposal per application."""
    lease = 12

    def inject(fault):
        wl = fault.workload
        idle = [
            wl.call(
                "POST",
                "/api/v1/jurors",
                token=wl.admin,
                json={
                    "name": f"Juré absent {n}",
                    "email": f"absent{n}@pannes.example.fr",
                    "department": "75",
                },
                accept=(201,),
            ).json()
            for n in range(50)
        ]
        fault.submitted(0.8)

        def claim(juror):
            return wl.call(
                "POST",
                "/api/v1/review-tasks/claim",
                token=juror["token"],
                json={"campaign_year": wl.year},
                accept=(200, 404),
            )

        def claim_and_review(juror):
            response = claim(juror)
            if response.status_code == 200:
                task = response.json()
                wl.call(
                    "POST",
                    f"/api/v1/review-tasks/{task['id']}/review",
                    token=juror["token"],
                    json={
                        "scores": {e["code"]: 3 for e in wl.grid["enjeux"]},
                        "arobases": wl.level(task["application_id"]),
                        "mentions": [],
                        "comment": "Revenu à temps.",
                    },
                    settle=lambda r: r if r.status_code == 409 else None,
                )

        with ThreadPoolExecutor(50) as pool:
            list(pool.map(claim, idle))
        time.sleep(lease)  # the 50 leases run out together
        with ThreadPoolExecutor(50) as pool:
            list(pool.map(claim_and_review, idle))
        fault.repaired()

    def one_review_per_application(stack, workload):
        done = Counter(
            task["application_id"]
            for task in stack.mongo("jury")["tasks"].find({"campaign_year": workload.year, "state": "done"})
        )
        return {"duplicated": {"reviews": sum(n - 1 for n in done.values())}}

    run_scenario(
        "50 claimers when the leases expire",
        backends,
        table,
        inject,
        extra_env={"CLAIM_LEASE_SECONDS": str(lease)},
        year=2107,
        check=one_review_per_application,
    )


@pytest.mark.skipif(not FULL, reason="make faults")
def test_two_releases_at_once_while_visitors_read_the_palmares(backends, table):
    """At the release, a second organiser's call at the same instant and
    visitors reading the palmarès (JSON, CSV, page), 200 requests a second in
    all: one release, readers see the embargo, "in progress", or the whole
    palmarès, never a part, and every read is answered (its time kept)."""
    partial = []
    unanswered = []
    latencies: list[float] = []
    readers_count, rate = 60, 200  # enough readers to keep 200/s while a read takes up to 0.3 s
    window = {}

    def inject(fault):
        wl = fault.workload
        fault.when(lambda: wl.released_at is not None, "the release")
        stop = threading.Event()

        def second_release():  # another organiser's click; the first one's time stays the release's
            wl.call(
                "POST",
                f"/api/v1/campaigns/{wl.year}/release",
                token=wl.admin,
                json={"force": True, "reason": "Deuxième organisateur, au même instant."},
                accept=(202,),
            )

        def read(path):
            pause = readers_count / rate
            while not stop.is_set():
                began = time.monotonic()
                try:
                    response = fault.stack.http("GET", path.format(year=wl.year), timeout=30)
                except requests.RequestException as exc:
                    unanswered.append(repr(exc))
                    continue
                latencies.append(time.monotonic() - began)
                stop.wait(max(pause - latencies[-1], 0))
                if response.status_code == 200 and path.endswith("palmares"):
                    if len(response.json()["labelled"]) != COUNT:
                        partial.append(len(response.json()["labelled"]))
                elif response.status_code not in (200, 409):
                    partial.append(response.status_code)

        paths = [
            "/api/v1/campaigns/{year}/palmares",
            "/api/v1/campaigns/{year}/palmares.csv",
            "/palmares/{year}",
        ]
        readers = [
            threading.Thread(target=read, args=(paths[n % 3],), daemon=True) for n in range(readers_count)
        ]
        window["began"] = time.monotonic()
        for reader in readers:
            reader.start()
        second_release()
        fault.release_mails(COUNT)
        stop.set()
        window["seconds"] = time.monotonic() - window["began"]
        for reader in readers:
            reader.join(timeout=60)
        fault.repaired()

    run_scenario(
        "two releases at once + readers",
        backends,
        table,
        inject,
        year=2109,
        check=lambda stack, workload: {
            "lost": {"partial_reads": len(partial), "unanswered_reads": len(unanswered)},
            "work": _reads(latencies, window["seconds"]),
        },
    )


@pytest.mark.skipif(not FULL, reason="make faults")
def test_submissions_at_the_deadline_second(backends, table):
    """Every collectivité submits at the closing second: each submission is
    either accepted and goes all the way, or refused (deadline_passed) and
    leaves a draft with nothing downstream (no task, no email)."""

    def inject(fault):
        fault.repaired()  # no outage: the deadline itself is the fault

    run_scenario(
        "submissions at the deadline second",
        backends,
        table,
        inject,
        year=2108,
        workload_options={"close_in": 60},
    )


@pytest.mark.skipif(not FULL, reason="make faults")
def test_a_template_failing_for_one_recipient(backends, table):
    """One collectivité's result email cannot be rendered: that email alone
    fails (and the organisers are alerted), every other result goes out."""
    # the 8th applicant of the workload (workload.Workload.setup names them)
    victim = f"mairie-{DEPARTMENTS[7]}100@pannes.example.fr"

    def inject(fault):
        fault.workload.excused.add(("result", victim))
        fault.repaired()

    def failed_and_alerted(stack, workload):
        emails = stack.mongo("notifications")["emails"]
        failed = emails.find_one({"campaign_year": workload.year, "template": "result", "recipient": victim})
        alert = emails.find_one({"template": "result_failed_alert", "state": "sent"})
        return {
            "lost": {
                "failed_result_recorded": 0 if failed and failed["state"] == "failed" else 1,
                "organisers_alerted": 0 if alert else 1,
            }
        }

    run_scenario(
        "a template failing for one recipient",
        backends,
        table,
        inject,
        extra_env={"FAULT_TEMPLATE_FAILS_FOR": f"result:{victim}"},
        year=2110,
        check=failed_and_alerted,
    )


# the events published only at the deliberation and the release: poisoned in a
# second round, once the jury's work is done (a poisoned application would
# otherwise hold the release back until its replay)
RELEASE_EVENTS = ("deliberation_ready", "award_decided", "results_released")


@pytest.mark.skipif(not FULL, reason="make faults")
def test_a_poison_message_in_each_consumer(backends, table):
    """Every event handler of every service fails on the first event it
    receives (FAULT_POISON_FIRST_EVENT): after the inbox's retries that
    message is dead-lettered and seen in GET /api/v1/dead-letters; then the
    "fix" (each service restarted without the switch) and the replay: each
    poisoned message is handled once, and its effect is there once. Two
    rounds: the events before the release, then the release's own. All 20
    handlers get their event: a collectivité beside the workload's leaves its
    draft to the reminder then withdraws it, the jurors' digest runs every 5 s,
    and the campaign closes before the release (the deliberation gets ready)."""
    seen: dict[tuple[str, str], dict] = {}  # (consumer, handler) -> its dead letter

    def published(stack):
        names = set()
        for service in contracts.SERVICES:
            changes = stack.mongo(service)["changes"].find({"events.0": {"$exists": True}}, {"events": 1})
            for change in changes:
                names.update(event["name"] for event in change["events"])
        return names

    def letters(wl):
        response = wl.call("GET", "/api/v1/dead-letters?limit=100", token=wl.admin)
        return response.json()

    def poisoned(fault, events):
        """Waits until every handler of these events has its dead letter."""
        wl = fault.workload
        expected = {(c, m) for e, c, m in contracts.SUBSCRIPTIONS if e.name in events}

        def missing():
            for letter in letters(wl):
                key = (letter["consumer"], letter["handler"])
                if key in expected and "FAULT_POISON_FIRST_EVENT" in (letter["error"] or ""):
                    assert letter["attempts"] == int(fault.stack.env.get("INBOX_MAX_ATTEMPTS", 5)), letter
                    seen.setdefault(key, letter)
            return not expected - set(seen)

        wait_until(missing, timeout=600, interval=2, what=f"a dead letter from each handler of {events}")

    def fix_and_replay(fault, switch):
        stack, wl = fault.stack, fault.workload
        stack.env["FAULT_POISON_FIRST_EVENT"] = switch  # the supervisor's restarts too
        for service in contracts.SERVICES:
            stack.restart(service)
        # a replayed message can meet its consumer before the one it follows (an
        # application's review before its submission): it fails and comes back; replay again
        deadline = time.monotonic() + 300
        while letters(wl):
            assert time.monotonic() < deadline, letters(wl)
            wl.call("POST", "/api/v1/dead-letters/replay", token=wl.admin, accept=(202,))
            time.sleep(3)

    before = [name for name in contracts.EVENTS if name not in RELEASE_EVENTS]

    def inject(fault):
        wl = fault.workload
        outsider = wl.outsider()
        fault.when(lambda: "application_reminder_due" in published(fault.stack), "a reminder")
        wl.call("POST", f"/api/v1/applications/{outsider.application_id}/withdraw", token=outsider.token)
        fault.reviewed(0.2)
        poisoned(fault, before)
        fix_and_replay(fault, ",".join(RELEASE_EVENTS))
        fault.when(lambda: wl.released_at is not None, "the release")
        poisoned(fault, RELEASE_EVENTS)
        fix_and_replay(fault, "")
        fault.repaired()

    def handled_once(stack, workload):
        not_handled = sum(
            1
            for (consumer, handler), letter in seen.items()
            if stack.mongo(consumer)["handled_events"].count_documents(
                {"_id": f"{letter['payload']['event_id']}:{handler}"}
            )
            != 1
        )
        handlers = ", ".join(f"{c}.{h}" for c, h in sorted(seen))
        print(f"\npoisoned then replayed ({len(seen)}): {handlers}")
        every = {(c, m) for _, c, m in contracts.SUBSCRIPTIONS}
        unpoisoned = len(every - set(seen))
        return {"lost": {"poisoned_not_handled": not_handled, "handlers_not_poisoned": unpoisoned}}

    run_scenario(
        "a poison message in each consumer",
        backends,
        table,
        inject,
        extra_env={"FAULT_POISON_FIRST_EVENT": "all", "REVIEW_DIGEST_SECONDS": "5"},
        year=2105,
        workload_options={"release_after_close": 150},
        check=handled_once,
    )
