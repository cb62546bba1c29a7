"""Release of a big campaign against the real MongoDB/FerretDB (publishing stubbed):
time to decide and write the release, number and size of the batch records.

    .venv/bin/python tests/bench/awards_release.py            # 5,000 applications
    AWARDS_BENCH_COUNT=35000 .venv/bin/python tests/bench/awards_release.py
"""

import os
import secrets
import sys
import time
from pathlib import Path

import bson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from services.awards.logic import Awards  # noqa: E402
from services.awards.repository import AwardsRepository, ensure_indexes  # noqa: E402
from services.common.clock import utcnow  # noqa: E402
from services.common.ledger import Ledger  # noqa: E402
from services.common.mongo import make_client  # noqa: E402
from services.common.relay import OutboxSession  # noqa: E402


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


def main():
    count = int(os.environ.get("AWARDS_BENCH_COUNT", 5000))
    year = 2999
    client = make_client(os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/"))
    name = f"bench_{secrets.token_hex(4)}_awards"
    db = client[name]
    try:
        ensure_indexes(db)
        repo = AwardsRepository(db)
        repo.save_campaign(
            {
                "_id": year,
                "year": year,
                "title": "bench",
                "ceremony_at": "2999-02-01T10:00:00+00:00",
                "ceremony_place": "Lille",
                "submissions_close_at": "2020-12-01T00:00:00+00:00",  # closed: the release needs no reason
                "mentions": [],
            }
        )
        for start in range(0, count, 1000):
            chunk = range(start, min(start + 1000, count))
            db.applications.insert_many(
                [
                    {"_id": f"app-{n:06d}", "campaign_year": year, "collectivite": collectivite(n)}
                    for n in chunk
                ]
            )
            db.proposals.insert_many(
                [
                    {
                        "_id": f"app-{n:06d}",
                        "campaign_year": year,
                        "collectivite": collectivite(n),
                        "proposal": {"arobases": n % 5 + 1, "mentions": []},
                        "reviews": [],
                        "disagreement": False,
                    }
                    for n in chunk
                ]
            )
        # The label's history: the same collectivités labelled the year before.
        repo.record_levels(
            year - 1, [(collectivite(n)["insee_code"], n % 5 + 1) for n in range(count)], "released"
        )
        ledger = Ledger(db)
        relay = CountingRelay(ledger)
        awards = Awards(repo, OutboxSession(ledger, relay), utcnow())
        started = time.monotonic()
        result = awards.release(year, "bench")
        elapsed = time.monotonic() - started
        again = time.monotonic()
        assert awards.release(year, "bench") == result
        second = time.monotonic() - again
        steps = list(db.changes.find({"collection": "steps"}))
        sizes = sorted(len(bson.encode(step)) for step in steps)
        print(f"applications: {count}; labelled: {result['labelled_count']}")
        print(f"release: {elapsed:.1f} s; second call: {second:.2f} s; events published: {relay.events}")
        print(f"records: {len(steps)}; biggest: {sizes[-1] / 1e6:.2f} MB (limit 16 MB)")
    finally:
        client.drop_database(name)


if __name__ == "__main__":
    main()
