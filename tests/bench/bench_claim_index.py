"""The jury's CPU per claim (services/jury/eligibility.py), with the claim
index kept up to date claim after claim, against the baseline measured in the
same run: ordering every task of the campaign at each claim, as a claim did
before. Pure Python, no database: what a claim costs the jury process itself.

A synthetic campaign of --applications applications, two tasks each (half
open, the rest claimed or reviewed by 300 jurors), then --claims claims of
the first candidate, each written back into the index.

With --database: the same tasks stored in a throw-away FerretDB (on
FERRETDB_BACKEND, tests/support/ferretdb.py), and what one copy of the task
list costs to read (`Tasks.scan_of_campaign`, what TaskSnapshots reads once per
process and campaign), against one task read by `_id` in the same run.

Then the copy's memory (tracemalloc, what the index holds once built and
after every task is claimed then reviewed), against the baseline measured in
the same run: the same index keeping each task as a plain dict of the same
fields, as it did before `eligibility.ClaimTask`. And what the jurors' digest
holds (`eligibility.OpenTasks` of every open task, 20 codes declared as
conflicts), against the same kept by every code of every task, as before.

    .venv/bin/python tests/bench/bench_claim_index.py [--applications 35000] [--database]
"""

import argparse
import gc
import random
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.jury import eligibility  # noqa: E402
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
                    "campaign_year": 2294,
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
    parser.add_argument("--database", action="store_true", help="also time one copy's read from FerretDB")
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
    copy_memory(args.applications)
    digest_memory(all_tasks)
    if args.database:
        copy_read(all_tasks)


def copy_memory(applications):
    """MiB the claim index holds: built, then once every task was claimed and
    reviewed (each version learnt, as the copy follows a national review)."""

    def traced():
        rng = random.Random(17)
        gc.collect()
        tracemalloc.start()
        index = ClaimIndex(tasks(applications, rng), NOW)
        built = tracemalloc.get_traced_memory()[0]
        for task in tasks(applications, rng):
            juror = f"juror-{rng.randrange(300)}"
            claimed = dict(task, state=CLAIMED, claimed_by=juror, version=2, lease_expires_at=NOW + LEASE)
            index.learn(claimed)
            index.learn(dict(claimed, state=DONE, version=3))
        gc.collect()
        reviewed = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return built / 2**20, reviewed / 2**20

    class DictTask(dict):  # a plain dict, but for the attribute access the index uses
        __getattr__ = dict.__getitem__
        __setattr__ = dict.__setitem__

    def as_dict(task):
        kept = {key: task[key] for key in eligibility.ClaimTask.__slots__ if key in task}
        return DictTask(kept, collectivite=dict(task["collectivite"]))

    slotted = eligibility.claim_fields
    eligibility.claim_fields = as_dict  # the copy as it was: plain dicts
    try:
        dict_built, dict_reviewed = traced()
    finally:
        eligibility.claim_fields = slotted
    built, reviewed = traced()
    print(
        f"{'claim copy, plain dicts: built / reviewed (MiB)':<46} {dict_built:>5.1f} / {dict_reviewed:.1f}  —"
    )
    print(
        f"{'claim copy: built / reviewed (MiB)':<46} {built:>5.1f} / {reviewed:.1f}"
        f"  ×{built / dict_built:.2f} / ×{reviewed / dict_reviewed:.2f}"
    )


def digest_memory(all_tasks):
    """MiB a digest's OpenTasks holds: looked up by the declared codes only,
    against every code of every task (the baseline: each one declared)."""
    open_tasks = [dict(task, state=OPEN, created_at=NOW) for task in all_tasks]
    every_code = {code for task in open_tasks for code in task["collectivite"].values()}

    def traced(declared):
        gc.collect()
        tracemalloc.start()
        digest = eligibility.OpenTasks(declared)
        for task in open_tasks:
            digest.add(task)
        held = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return held / 2**20

    baseline = traced(every_code)
    declared = traced(sorted(every_code)[:20])
    print(f"{'digest of the open tasks, every code (MiB)':<46} {baseline:>10.1f}  —")
    print(f"{'digest of the open tasks, 20 codes (MiB)':<46} {declared:>10.1f}  ×{declared / baseline:.2f}")


def copy_read(all_tasks):
    """One copy of the task list read from the database, against one `_id` read."""
    from services.common.mongo import make_client
    from services.jury.repository import Tasks, ensure_indexes
    from tests.support.bench import timed
    from tests.support.ferretdb import private_ferretdb

    uri, ferret = private_ferretdb()
    try:
        db = make_client(uri)["bench_claim_index"]
        ensure_indexes(db)
        for start in range(0, len(all_tasks), 1000):
            db["tasks"].insert_many(all_tasks[start : start + 1000])
        time.sleep(3)  # the field indexes (deploy/local/mongo/pgindex.go) come within a second or two
        tasks = Tasks(db)
        ids = [all_tasks[n * 97 % len(all_tasks)]["_id"] for n in range(50)]
        baseline = sorted(timed(lambda task_id=task_id: tasks.get(task_id))[1] for task_id in ids)[25]
        copy = sorted(timed(lambda: list(tasks.scan_of_campaign(2294)))[1] for _ in range(3))[1]
        print(f"{'database: one task by _id (median of 50)':<46} {baseline:>10,.2f}  —")
        name = "database: one copy of the task list (median 3)"
        print(f"{name:<46} {copy:>10,.2f}  ×{copy / baseline:,.0f}")
    finally:
        if ferret is not None:
            ferret.close()


if __name__ == "__main__":
    main()
