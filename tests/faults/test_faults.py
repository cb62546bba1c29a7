"""The fault suite: the whole system as real processes (tests/support/stack.py)
on the suite's own RabbitMQ and FerretDB (backends.py), a workload of
applications moving through the lifecycle (workload.py), one fault injected
while it runs; then what should exist is compared with what does: every
application submitted, one proposal each, one result email per labelled
collectivité and none before the release, every event handled (no dead
letter), nothing twice. `make faults` runs every scenario with 200
applications; `make test` a short form (fewer applications, shorter outages).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from deploy.local import procs
from tests.faults.conftest import FULL
from tests.faults.workload import Workload
from tests.support.api import wait_until
from tests.support.stack import Stack, _venv_bin

pytestmark = pytest.mark.timeout(1200)

COUNT = 200 if FULL else 24
ENV = {
    "CLAIM_LEASE_SECONDS": "20",  # a claim lost with its answer returns to the pool
    "SENDING_LEASE_SECONDS": "4",
    "SMTP_BACKOFF_SECONDS": "1",
    "SMTP_BACKOFF_MAX_SECONDS": "4",
    "SMTP_MAX_ATTEMPTS": "30",
    "OUTBOX_SWEEP_SECONDS": "1",
    "INBOX_BACKOFF_SECONDS": "0.5",
    "ORGANISER_EMAILS": "orga@pannes.example.fr",
    "LOG_LEVEL": "INFO",
}


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


def run_scenario(name, backends, table, inject, stack_options=None, extra_env=None, year=2101):
    stack = Stack(
        backends.rabbit.amqp_uri,
        backends.ferret.uri,
        rabbit_api=backends.rabbit.api,
        extra_env={**ENV, **(extra_env or {})},
        **(stack_options or {}),
    )
    stack.start_all()
    extra: list[subprocess.Popen] = []
    try:
        workload = Workload(stack, COUNT, year=year)
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
        thread.start()
        workload.run()
        thread.join(timeout=600)
        if fault.error is not None:
            raise fault.error
        outcome = workload.wait_converged(timeout=400)
        recover = max(time.monotonic() - fault.repaired_at, 0.0) if outcome.lost_total == 0 else float("nan")
        # a last look after the dust settles: nothing arrives twice late
        time.sleep(3)
        outcome = workload.check()
    finally:
        for proc in extra:
            _kill(proc)
        stack.stop_all()
    table.append(
        {
            "scenario": name,
            "work": outcome.work(),
            "lost": outcome.lost_total,
            "duplicated": outcome.duplicated_total,
            "recover": recover,
        }
    )
    assert outcome.lost == {k: 0 for k in outcome.lost}, outcome
    assert outcome.duplicated == {k: 0 for k in outcome.duplicated}, outcome
    assert outcome.early == 0
    assert outcome.done["applications"] == outcome.done["proposals"] == COUNT
    assert outcome.done["mails"] == 3 * COUNT


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
        backends.ferret.stop()
        time.sleep(30)
        backends.ferret.start()
        fault.repaired()

    run_scenario("database stopped 30 s, restarted", backends, table, inject, year=2103)
