"""An organiser's draft export at national size, against the real
MongoDB/FerretDB: the memory the awards process holds to answer it, read
whole (one RPC reply of every line, as before draft exports) against
written out and read chunk by chunk (`draft_export`, then `draft_chunk`), in
the same run. Each way runs in a fresh process; its memory is the rise of
that process's peak RSS over its RSS once connected, the replies encoded as
nameko encodes them (JSON).

    .venv/bin/python tests/bench/draft_export.py           # 35,000 lines
    AWARDS_BENCH_COUNT=3500 .venv/bin/python tests/bench/draft_export.py
"""

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from services.awards.logic import ORGANISER, Awards  # noqa: E402
from services.awards.repository import AwardsRepository  # noqa: E402
from services.common.clock import utcnow  # noqa: E402
from services.common.ledger import Ledger  # noqa: E402
from services.common.mongo import make_client  # noqa: E402
from services.common.relay import OutboxSession  # noqa: E402
from tests.bench.awards_release import YEAR, CountingRelay, seed  # noqa: E402
from tests.support.bench import memory_rise  # noqa: E402


def read_whole(awards):
    """The draft as one reply: every line, encoded at once. (bytes, replies, lines)"""
    draft = awards.palmares(YEAR, ORGANISER)
    return len(json.dumps(draft)), 1, len(draft["labelled"])


def read_chunked(awards):
    """The draft written out, then each chunk's reply one after the other."""
    head = awards.draft_export(YEAR, ORGANISER)
    size, lines = len(json.dumps(head)), 0
    for index in range(head["chunks"]):
        chunk = awards.draft_chunk(head["export"], index)
        size, lines = size + len(json.dumps(chunk)), lines + len(chunk)
    return size, 1 + head["chunks"], lines


WAYS = {"whole": read_whole, "chunked": read_chunked}


def answer(uri, name, way):
    """In this (fresh) process: the draft read `way`; prints its figures as JSON."""
    db = make_client(uri)[name]
    repo = AwardsRepository(db)
    ledger = Ledger(db)
    awards = Awards(repo, OutboxSession(ledger, CountingRelay(ledger)), utcnow())
    repo.campaign(YEAR)  # connected: pools and first reply in the baseline
    (size, replies, lines), seconds, idle, peak = memory_rise(lambda: WAYS[way](awards))
    figures = {"seconds": seconds, "idle_kib": idle, "peak_kib": peak, "bytes": size, "replies": replies}
    print(json.dumps(dict(figures, lines=lines)))


def main():
    count = int(os.environ.get("AWARDS_BENCH_COUNT", 35000))
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    client = make_client(uri)
    name = f"bench_{secrets.token_hex(4)}_awards"
    try:
        started = time.monotonic()
        seed(client[name], count)
        print(f"  seeded {count:,} applications in {time.monotonic() - started:.0f} s", flush=True)
        figures = {}
        for way in WAYS:
            done = subprocess.run(
                [sys.executable, __file__, "--answer", uri, name, way], capture_output=True, text=True
            )
            if done.returncode:
                sys.exit(f"the {way} read failed:\n{done.stderr[-3000:]}")
            figures[way] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        client.drop_database(name)
    columns = ("draft read", "seconds", "replies", "reply MB", "idle MiB", "rise MiB")
    print(" ".join(f"{c:>12}" for c in columns))
    for way, f in figures.items():
        print(
            f"{way:>12} {f['seconds']:>12.1f} {f['replies']:>12} {f['bytes'] / 1e6:>12.1f} "
            f"{f['idle_kib'] / 1024:>12.0f} {(f['peak_kib'] - f['idle_kib']) / 1024:>12.0f}"
        )
    whole, chunked = (max(1, figures[w]["peak_kib"] - figures[w]["idle_kib"]) for w in WAYS)
    assert figures["whole"]["lines"] == figures["chunked"]["lines"] == count, figures
    print(
        f"{count:,} lines: chunk by chunk, ×{chunked / whole:.2f} the memory rise of the whole draft, "
        f"×{figures['chunked']['seconds'] / figures['whole']['seconds']:.2f} its time"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--answer"]:
        answer(*sys.argv[2:5])
    else:
        main()
