"""The jury's CPU per claim (services/jury/eligibility.py), with the claim
index kept up to date claim after claim, against the baseline measured in the
same run: ordering every task of the campaign at each claim, as a claim did
before. Pure Python, no database: what a claim costs the jury process itself.

A synthetic campaign of --applications applications, two tasks each (half
open, the rest claimed or reviewed by 300 jurors), then --claims claims of
the first candidate, each written back into the index.

    .venv/bin/python tests/bench/bench_claim_index.py [--applications 35000]
"""

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.jury.eligibility import CLAIMED, DONE, OPEN, ClaimIndex  # noqa: E402

NOW = datetime(2294, 3, 1, tzinfo=UTC)
LEASE = timedelta(hours=48)
DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]


def tasks(applications, rng):
    out = []
    for n in range(applications):
        department = rng.choice(DEPARTMENTS)
        collectivite = {
            "id": f"{department}{n:05d}",
            "insee_code": f"{department}{n:05d}",
            "department": department,
        }
        for k in (1, 2):
            state = rng.choice([OPEN, OPEN, CLAIMED, DONE])
            out.append(
                {
                    "_id": f"2294:{n}:{k}",
                    "application_id": f"2294:{n}",
                    "n": k,
                    "state": state,
                    "version": 1 if state == OPEN else 2,
                    "claimed_by": None if state == OPEN else f"juror-{rng.randrange(300)}",
                    "lease_expires_at": NOW + LEASE if state == CLAIMED else None,
                    "collectivite": collectivite,
                }
            )
    return out


def claim(candidates, juror):
    task = candidates[0]
    return dict(
        task,
        state=CLAIMED,
        claimed_by=juror["_id"],
        version=task["version"] + 1,
        lease_expires_at=NOW + LEASE,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=35000)
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--baseline-claims", type=int, default=10)
    args = parser.parse_args()
    rng = random.Random(17)
    all_tasks = tasks(args.applications, rng)
    jurors = [
        {"_id": f"juror-{n}", "department": rng.choice(DEPARTMENTS), "conflicts": []} for n in range(300)
    ]

    started = time.perf_counter()
    for n in range(args.baseline_claims):  # before: every task ordered at each claim
        juror = jurors[n % len(jurors)]
        app_id, candidates = next(ClaimIndex(all_tasks, NOW).order(juror, NOW, rng))
    baseline = (time.perf_counter() - started) / args.baseline_claims * 1000

    started = time.perf_counter()
    index = ClaimIndex(all_tasks, NOW)
    build = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for n in range(args.claims):
        juror = jurors[n % len(jurors)]
        app_id, candidates = next(index.order(juror, NOW, rng))
        index.update(claim(candidates, juror))
    per_claim = (time.perf_counter() - started) / args.claims * 1000

    print(f"{len(all_tasks)} tasks of {args.applications} applications")
    print(f"{'stage':<46} {'ms':>10}  vs baseline")
    print(f"{'baseline: every task ordered, per claim':<46} {baseline:>10,.2f}  —")
    print(f"{'claim index: built once per copy of the tasks':<46} {build:>10,.2f}  ×{build / baseline:,.2f}")
    print(
        f"{'claim index: per claim, kept up to date':<46} {per_claim:>10,.3f}  ×{per_claim / baseline:,.4f}"
    )


if __name__ == "__main__":
    main()
