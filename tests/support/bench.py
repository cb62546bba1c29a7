"""What the benches in tests/bench share: percentiles, N concurrent HTTP
clients timed per request, a private throw-away FerretDB, and a thread that
samples the resident memory of processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests.support.net import free_port, wait_tcp

ROOT = Path(__file__).resolve().parents[2]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def hammer(threads, work):
    """Run `work(index, session, record)` in `threads` threads, each with its own
    requests Session; `record(started, status)` times one request from
    `started` (a perf_counter value). Returns (latencies ms, statuses, wall s)."""
    latencies, statuses, lock = [], {}, threading.Lock()
    errors: list[BaseException] = []

    def record(started, status):
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            latencies.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1

    def run(index):
        try:
            with requests.Session() as session:
                work(index, session, record)
        except BaseException as exc:  # re-raised below, in the caller's thread
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return latencies, statuses, time.perf_counter() - started


class PrivateFerretDB:
    """MONGODB_URI when set; else a throw-away FerretDB (SQLite, as `make test`
    starts) when var/bin/ferretdb-local is built: figures free of other
    databases and other users; else mongodb://127.0.0.1:27017/."""

    def __init__(self):
        self.proc: subprocess.Popen | None = None
        self.directory: str | None = None
        binary = ROOT / "var" / "bin" / "ferretdb-local"
        if os.environ.get("MONGODB_URI") or not binary.exists():
            self.uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
            return
        port = free_port()
        (ROOT / "var").mkdir(exist_ok=True)
        self.directory = tempfile.mkdtemp(prefix="bench-ferretdb-", dir=ROOT / "var")
        self.proc = subprocess.Popen(
            [str(binary), "-listen", f"127.0.0.1:{port}", "-dir", self.directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_tcp("127.0.0.1", port, timeout=30, what="private FerretDB")
        self.uri = f"mongodb://127.0.0.1:{port}/"

    @property
    def private(self) -> bool:
        return self.proc is not None

    def describe(self) -> str:
        backend = os.environ.get("FERRETDB_BACKEND")
        text = self.uri + (" (private FerretDB, SQLite)" if self.private else "")
        return text + (f", FERRETDB_BACKEND={backend}" if backend else "")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.proc = None
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return 0.0


class RssSampler(threading.Thread):
    """Samples VmRSS of named processes every `interval` seconds; `peaks` in KiB.
    `pids()` is called at each sample: a restarted process is followed."""

    def __init__(self, pids, interval: float = 0.5):
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def sample(self) -> None:
        for name, pid in self.pids().items():
            if pid:
                self.peaks[name] = max(self.peaks.get(name, 0), rss_kib(pid))

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process."""
        return {name: cpu_seconds(pid) for name, pid in self.pids().items() if pid}

    def stop(self) -> dict[str, int]:
        self._stop_event.set()
        self.join(timeout=5)
        self.sample()
        return self.peaks
