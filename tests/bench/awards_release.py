"""The awards timer's write-out of a requested release, against the real
MongoDB/FerretDB (publishing counted, not sent): its time and the memory it
holds, at a tenth of the size and at the size, in the same run. Each release
runs in a fresh process; its memory is the rise of that process's peak RSS
over its RSS once connected. A write-out that holds the whole campaign rises
about ×10 from the tenth to the size; one that streams it, far less.

    .venv/bin/python tests/bench/awards_release.py                  # 3,500 then 35,000
    AWARDS_BENCH_COUNT=5000 .venv/bin/python tests/bench/awards_release.py
"""

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import bson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from services.awards.logic import Awards  # noqa: E402
from services.awards.release import release_part  # noqa: E402
from services.awards.repository import AwardsRepository, ensure_indexes  # noqa: E402
from services.common.clock import utcnow  # noqa: E402
from services.common.ledger import Ledger  # noqa: E402
from services.common.mongo import make_client  # noqa: E402
from services.common.relay import OutboxSession  # noqa: E402
from tests.support.bench import memory_rise  # noqa: E402

YEAR = 2999
ENJEUX = [{"code": f"E{n}", "label": f"Enjeu {n}"} for n in range(1, 7)]
# About what a juror writes: the feedback carries it to the collectivité.
COMMENT = (
    "Démarche solide et lisible : les services en ligne couvrent l'essentiel des "
    "démarches, la médiation numérique est portée par un conseiller numérique. "
) * 3
INSERT_CHUNK = 1000


class CountingRelay:
    def __init__(self, ledger):
        self.ledger, self.events = ledger, 0

    def publish(self, change):
        self.events += len(change["events"])
        self.ledger.mark_published(change["_id"])
        return True


def collectivite(n):
    return {
        "id": f"col-{n}",
        "insee_code": f"{n:05d}",
        "name": f"Commune {n}",
        "kind": "commune",
        "category": "ville" if n % 3 else "village",
        "department": f"{n % 95 + 1:02d}",
        "region": f"Région {n % 13}",
        "population": 1000 + n,
        "email": f"mairie{n}@example.fr",
        "member_communes": [],
    }


def review(n, juror):
    return {
        "review_id": f"rev-{n}-{juror}",
        "juror_id": f"juror-{(n + juror) % 300}",
        "arobases": n % 5 + 1,
        "mentions": ["sante"] if n % 7 == 0 else [],
        "scores": {e["code"]: (n + juror + i) % 5 if i else None for i, e in enumerate(ENJEUX)},
        "comment": COMMENT,
    }


def seed(db, count):
    """A campaign of `count` labelled applications, two reviews each, the
    first comment approved; the same collectivités labelled the year before;
    the release requested."""
    ensure_indexes(db)
    repo = AwardsRepository(db)
    repo.save_campaign(
        {
            "_id": YEAR,
            "year": YEAR,
            "title": "bench",
            "ceremony_at": "2999-02-01T10:00:00+00:00",
            "ceremony_place": "Lille",
            "submissions_close_at": "2020-12-01T00:00:00+00:00",  # closed: the release needs no reason
            "mentions": [{"code": "sante", "label": "Santé"}],
            "enjeux": ENJEUX,
        }
    )
    at = utcnow()
    for start in range(0, count, INSERT_CHUNK):
        chunk = range(start, min(start + INSERT_CHUNK, count))
        db.applications.insert_many(
            [
                {
                    "_id": f"app-{n:06d}",
                    "campaign_year": YEAR,
                    "part": release_part(f"app-{n:06d}"),
                    "collectivite": collectivite(n),
                }
                for n in chunk
            ]
        )
        db.proposals.insert_many(
            [
                {
                    "_id": f"app-{n:06d}",
                    "campaign_year": YEAR,
                    "part": release_part(f"app-{n:06d}"),
                    "collectivite": collectivite(n),
                    "proposal": {"arobases": n % 5 + 1, "mentions": []},
                    "reviews": [review(n, 0), review(n, 1)],
                    "disagreement": False,
                }
                for n in chunk
            ]
        )
        db.moderation.insert_many(
            [
                {
                    "_id": f"app-{n:06d}|rev-{n}-0",
                    "application_id": f"app-{n:06d}",
                    "campaign_year": YEAR,
                    "part": release_part(f"app-{n:06d}"),
                    "review_id": f"rev-{n}-0",
                    "entries": [{"state": "approved", "text": None, "by": "orga", "at": at}],
                }
                for n in chunk
            ]
        )
    repo.record_levels(
        YEAR - 1, [(collectivite(n)["insee_code"], n % 5 + 1) for n in range(count)], "released"
    )
    ledger = Ledger(db)
    Awards(repo, OutboxSession(ledger, CountingRelay(ledger)), utcnow()).release(YEAR, "bench")


def write_out(uri, name):
    """In this (fresh) process: the timer's decision and write-out of the
    requested release; prints its figures as JSON."""
    db = make_client(uri)[name]
    repo = AwardsRepository(db)
    ledger = Ledger(db)
    relay = CountingRelay(ledger)
    awards = Awards(repo, OutboxSession(ledger, relay), utcnow())
    repo.campaign(YEAR)  # connected: pools and first reply in the baseline
    released, seconds, idle, peak = memory_rise(awards.decide_requested_releases)
    assert released == [YEAR], released
    assert repo.release(YEAR)["complete"]
    # A few at a time: FerretDB v1 sends 250 records to a getMore, past 48 MB here.
    sizes = [len(bson.encode(s)) for s in db.changes.find({"collection": "steps"}, batch_size=8)]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "idle_kib": idle,
                "peak_kib": peak,
                "events": relay.events,
                "records": len(sizes),
                "biggest": max(sizes),
            }
        )
    )


def measure(uri, client, count):
    name = f"bench_{secrets.token_hex(4)}_awards"
    try:
        started = time.monotonic()
        seed(client[name], count)
        print(f"  seeded {count:,} applications in {time.monotonic() - started:.0f} s", flush=True)
        done = subprocess.run(
            [sys.executable, __file__, "--write-out", uri, name], capture_output=True, text=True
        )
        if done.returncode:
            sys.exit(f"the write-out failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        assert figures["events"] == count + 1, figures  # and results_released
        return figures
    finally:
        client.drop_database(name)


def main():
    count = int(os.environ.get("AWARDS_BENCH_COUNT", 35000))
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/")
    client = make_client(uri)
    rows = [(size, measure(uri, client, size)) for size in (count // 10, count)]
    columns = ("applications", "write-out s", "idle MiB", "peak MiB", "rise MiB", "biggest MB")
    print(" ".join(f"{c:>12}" for c in columns))
    for size, f in rows:
        rise = (f["peak_kib"] - f["idle_kib"]) / 1024
        print(
            f"{size:>12,} {f['seconds']:>12.1f} {f['idle_kib'] / 1024:>12.0f} {f['peak_kib'] / 1024:>12.0f} "
            f"{rise:>12.0f} {f['biggest'] / 1e6:>12.2f}"
        )
    (small, a), (big, b) = rows
    rise = [max(1, f["peak_kib"] - f["idle_kib"]) for f in (a, b)]
    print(
        f"×{big / small:.0f} applications: write-out ×{b['seconds'] / a['seconds']:.1f} time, "
        f"×{rise[1] / rise[0]:.1f} memory rise (records ≤ 16 MB each)"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--write-out"]:
        write_out(*sys.argv[2:4])
    else:
        main()
