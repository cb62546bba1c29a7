"""What the benches in tests/bench share: percentiles, N concurrent HTTP
clients timed per request, and a thread that samples the resident memory and
CPU time of processes (a throw-away FerretDB: tests/support/ferretdb.py)."""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def timed(fn):
    """fn()'s result, and the milliseconds it took."""
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1000


def stage_line(name, values, baseline=None, width=36):
    """One row of a bench's table: count, median and p99 (ms), the median's
    ratio to the baseline's."""
    median, p99 = statistics.median(values), percentile(values, 0.99)
    ratio = f"×{median / baseline:,.1f}" if baseline else "—"
    print(f"{name:<{width}} {len(values):>6} {median:>11,.1f} {p99:>10,.1f}  {ratio}")


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
    return latencies, statuses, run_all(pool, errors)


def run_all(threads: list[threading.Thread], errors: list[BaseException]) -> float:
    """Start `threads`, wait for them all; re-raise the first error they put in
    `errors`, in the caller's thread; else the seconds they took."""
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # a join with a timeout lets a SIGINT through to this thread
            thread.join(1.0)
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def rss_kib(pid: int) -> int:
    """VmRSS of a process in KiB (0 once it is gone)."""
    return status_kib(pid, "VmRSS")


def status_kib(pid: int, field: str) -> int:
    """A memory field of /proc/<pid>/status (VmRSS, VmHWM: the peak) in KiB, 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return 0


def memory_rise(work):
    """(work()'s result, its seconds, this process's RSS before it, its peak
    RSS during it) in KiB: the peak is counted again from the start
    (/proc/self/clear_refs), so that what the process did before is not in it."""
    idle = rss_kib(os.getpid())
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    started = time.monotonic()
    result = work()
    seconds = time.monotonic() - started
    return result, seconds, idle, status_kib(os.getpid(), "VmHWM")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its descendants, the
    exited ones included (a PostgreSQL postmaster's backends); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = sum(int(fields[n]) for n in (11, 12, 13, 14))  # utime stime cutime cstime
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return 0.0
    return ticks / os.sysconf("SC_CLK_TCK") + sum(cpu_seconds(child) for child in _children(pid))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


class RssSampler(threading.Thread):
    """Samples VmRSS of named processes every `interval` seconds; `peaks` in KiB,
    over the whole run and since the last `stage_peaks()`. `pids()` is called
    at each sample: a restarted process is followed."""

    def __init__(self, pids, interval: float = 0.5):
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.peaks: dict[str, int] = {}
        self._stage: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def sample(self) -> None:
        for name, pid in self.pids().items():
            if pid:
                kib = rss_kib(pid)
                with self._lock:
                    self.peaks[name] = max(self.peaks.get(name, 0), kib)
                    self._stage[name] = max(self._stage.get(name, 0), kib)

    def stage_peaks(self) -> dict[str, int]:
        """The peaks since the previous call (a stage's), then starts again."""
        self.sample()
        with self._lock:
            peaks, self._stage = self._stage, {}
        return peaks

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process."""
        return {name: cpu_seconds(pid) for name, pid in self.pids().items() if pid}

    def stop(self) -> dict[str, int]:
        self._stop_event.set()
        self.join(timeout=5)
        self.sample()
        return self.peaks
