"""Benchmark of `labelctl import`: rate (rows/s) and peak memory on a 35,000-row CSV.

    .venv/bin/python tests/bench/bench_import.py                # against a local stub API (measures the CLI)
    LABEL_API_URL=http://127.0.0.1:8000 LABEL_TOKEN=... \\
        .venv/bin/python tests/bench/bench_import.py --real --rows 2000   # against the running system

Each measured run is a fresh `labelctl import` process reporting its own peak
RSS (getrusage) and, for the parse-only runs, the peak of Python allocations
(tracemalloc). Baselines in the same run: the same rows parsed and validated
without HTTP (--dry-run), and 1,000 rows against 35,000 (memory must not grow).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20]
REGION_OF = None

CHILD = r"""
import resource, sys, time, tracemalloc
trace = sys.argv[1] == "trace"
if trace:
    tracemalloc.start()
from labelctl.main import cli
code = 0
try:
    cli.main(sys.argv[2:], standalone_mode=False)
except SystemExit as exc:
    code = exc.code
peak = tracemalloc.get_traced_memory()[1] if trace else 0
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"BENCH maxrss_kb={maxrss} traced_peak={peak}", file=sys.stderr)
"""


def write_csv(path, rows, seed):
    from services.common.reference import REGION_OF_DEPARTMENT

    rng = random.Random(seed)
    codes = [f"{dep}{n:03d}" for dep in DEPARTMENTS for n in range(1000)]
    rng.shuffle(codes)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("COM,LIBELLE,DEP,REG,PTOT,EMAIL\n")
        for code in codes[:rows]:
            dep = code[:2]
            fh.write(
                f"{code},Commune {code},{dep},{REGION_OF_DEPARTMENT[dep]},{rng.randint(50, 90000)},"
                f"mairie-{code}@bench.example\n"
            )


class Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the gateway

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"id": "c1", "token": "t", "category": "village"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run(args, env, trace=False):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, "trace" if trace else "plain", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    stats = {}
    for line in proc.stderr.splitlines():
        if line.startswith("BENCH "):
            stats = dict(kv.split("=") for kv in line.split()[1:])
    summary = [line.strip() for line in proc.stdout.splitlines() if ":" in line][:4]
    return seconds, int(stats.get("maxrss_kb", 0)), int(stats.get("traced_peak", 0)), summary, proc


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=35000)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--real", action="store_true", help="use LABEL_API_URL / LABEL_TOKEN instead of a stub"
    )
    opts = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = None
    if not opts.real:
        server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        env.update(LABEL_API_URL=f"http://127.0.0.1:{server.server_address[1]}", LABEL_TOKEN="bench")
    target = env.get("LABEL_API_URL") if opts.real else "stub API (in-process, 201 for every row)"
    seed = int(time.time())
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.csv", Path(tmp) / "small.csv"
        write_csv(big, opts.rows, seed)
        write_csv(small, opts.small, seed + 1)
        print(
            f"labelctl import benchmark: {opts.rows:,} rows vs {opts.small:,}; target: {target}; "
            f"{opts.workers} workers"
        )
        results = {}
        for name, path, extra, trace in [
            (f"parse+validate {opts.small}", small, ["--dry-run"], True),
            (f"parse+validate {opts.rows}", big, ["--dry-run"], True),
            (f"import {opts.small}", small, [], False),
            (f"import {opts.rows}", big, [], False),
        ]:
            args = ["import", "--no-progress", "--workers", str(opts.workers), *extra, str(path)]
            seconds, rss, traced, summary, proc = run(args, env, trace)
            rows = opts.small if path == small else opts.rows
            results[name] = (rows / seconds, rss, traced)
            print(
                f"  {name:<24} {seconds:7.2f} s  {rows / seconds:9.0f} rows/s  peak RSS {rss / 1024:6.1f} MiB"
                + (f"  peak Python heap {traced / 1024 / 1024:6.2f} MiB" if trace else "")
                + f"   [{'; '.join(summary[1:4])}]"
            )
            if proc.returncode not in (0, 4):
                print(proc.stderr[-2000:])
    if server:
        server.shutdown()
    big_rate, big_rss, _ = results[f"import {opts.rows}"]
    parse_rate, parse_rss, parse_heap = results[f"parse+validate {opts.rows}"]
    _, small_rss, _ = results[f"import {opts.small}"]
    _, _, small_heap = results[f"parse+validate {opts.small}"]
    print(f"import rate / parse-only rate ({opts.rows} rows): {big_rate / parse_rate:.2f}")
    print(f"peak RSS {opts.rows} rows / {opts.small} rows (import): {big_rss / small_rss:.2f}")
    print(
        f"peak Python heap {opts.rows} rows / {opts.small} rows (parse): "
        f"{parse_heap / max(small_heap, 1):.2f}"
    )


if __name__ == "__main__":
    main()
