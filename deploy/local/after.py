"""Wait for preconditions, then run a command (used by the supervisord programs).

    python -m deploy.local.after [--tcp HOST:PORT]... [--file PATH]... \
        [--timeout SECONDS] [--touch-on-success PATH] -- COMMAND [ARGS...]

Waits until every TCP address accepts a connection and every file exists,
then replaces itself with COMMAND (``exec``). With ``--touch-on-success`` it
runs COMMAND as a child instead and creates PATH when it exits with 0 (a
one-shot step that later programs wait for with ``--file PATH``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path


def tcp_ready(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print("after: missing -- COMMAND", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="after")
    parser.add_argument("--tcp", action="append", default=[])
    parser.add_argument("--file", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--touch-on-success")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]

    deadline = time.monotonic() + args.timeout
    announced = False
    while True:
        missing = [a for a in args.tcp if not tcp_ready(a)]
        missing += [f for f in args.file if not Path(f).exists()]
        if not missing:
            break
        if not announced:
            print(f"after: waiting for {', '.join(missing)}", file=sys.stderr, flush=True)
            announced = True
        if time.monotonic() > deadline:
            print(f"after: gave up waiting for {', '.join(missing)}", file=sys.stderr, flush=True)
            return 1
        time.sleep(0.3)

    if args.touch_on_success:
        marker = Path(args.touch_on_success)
        marker.unlink(missing_ok=True)
        code = subprocess.call(command)
        if code == 0:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            time.sleep(2)  # a failing one-shot is restarted by supervisord: do not spin
        return code
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main())
