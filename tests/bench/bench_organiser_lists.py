"""The organisers' list of applications and a campaign's counts, at national
size, against what they cost before (the whole campaign read for each page and
each count) and a baseline measured in the same run: one `_id` lookup.

A synthetic campaign of --applications applications (real département codes,
a fifth of the communes named "Saint-…", dossiers of the label's size) is
written straight into a submissions database of a throw-away FerretDB
(tests/support/ferretdb.py, the default backend; MONGODB_URI for another
server), then, through the use cases (services/submissions/logic.py):
  1. baseline: --samples `_id` lookups of random applications;
  2. list pages: the first --pages pages, cursor after cursor; one
     département's page; a search by name ("saint"), page after page;
  3. counts: the applications by state as a tally (services/common/tallies.py)
     served, and the count itself (made at every read before);
  4. whole: the whole campaign read and sorted, as each page did before.

    .venv/bin/python tests/bench/bench_organiser_lists.py [--applications 35000]
"""

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.common.mongo import make_client  # noqa: E402
from services.submissions.logic import Submissions, fold  # noqa: E402
from services.submissions.repository import CampaignDepartments, ensure_indexes, listed_fields  # noqa: E402
from services.submissions.settings import SubmissionsSettings  # noqa: E402
from tests.support.bench import stage_line, timed  # noqa: E402
from tests.support.config import service_config  # noqa: E402
from tests.support.ferretdb import private_ferretdb  # noqa: E402

YEAR = 2293
NOW = datetime(2293, 11, 1, tzinfo=UTC)
TEXT = "Portail citoyen, démarches en ligne et ateliers d'inclusion numérique à la médiathèque. "
DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]
STATES = ("submitted",) * 8 + ("draft", "withdrawn")


def applications(count, rng):
    docs = []
    for n in range(count):
        department = rng.choice(DEPARTMENTS)
        code = f"{department}{n:06d}"
        name = f"{'Saint-' if n % 5 == 0 else ''}{rng.choice(['Mont', 'Val', 'Bourg', 'Ville'])}-{n}"
        collectivite = {
            "id": code,
            "insee_code": code,
            "name": name,
            "kind": "commune",
            "category": rng.choice(["ville", "village"]),
            "department": department,
            "region": "Occitanie",
            "population": rng.randint(100, 90000),
            "email": f"mairie-{n}@bench-listes.example.fr",
            "member_communes": [],
            "tncc": None,
        }
        docs.append(
            {
                "_id": f"{YEAR}:{code}",
                "campaign_year": YEAR,
                "collectivite_id": code,
                "collectivite": collectivite,
                **listed_fields(collectivite),
                "state": rng.choice(STATES),
                "services": [f"service-{k}" for k in range(12)],
                "initiatives": [
                    {"title": f"Initiative {k}", "enjeu": "acces", "description": TEXT * 3} for k in range(3)
                ],
                "previous_arobases": None,
                "created_at": NOW,
                "updated_at": NOW,
                "version": 2,
            }
        )
    return docs


def pages(desk, filters, limit):
    """Up to `limit` pages, cursor after cursor: their times and the rows read."""
    times, rows, after, start = [], 0, None, None
    for _ in range(limit):
        page, ms = timed(lambda a=after, s=start: desk.search_applications(YEAR, filters, a, s))
        times.append(ms)
        rows += len(page["items"])
        after, start = page["next_after"], page["next_department"]
        if after is None and start is None:
            break
    return times, rows


def line(name, values, baseline=None):
    stage_line(name, values, baseline, width=52)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=35000)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--whole", type=int, default=2, help="times the whole campaign is read")
    args = parser.parse_args()
    rng = random.Random(13)
    uri, own = private_ferretdb("bench-listes-")
    try:
        db = make_client(uri)[f"bench_listes_{rng.getrandbits(32):08x}_submissions"]
        ensure_indexes(db)
        docs = applications(args.applications, rng)
        started = time.perf_counter()
        db.campaigns.insert_one({"_id": str(YEAR), "year": YEAR, "title": f"Label {YEAR}"})
        for start in range(0, len(docs), 1000):
            db.applications.insert_many(docs[start : start + 1000])
        departments = CampaignDepartments(db)
        for department in sorted({doc["department"] for doc in docs}):
            departments.add(YEAR, department)
        seconds = time.perf_counter() - started
        print(f"{len(docs)} applications written in {seconds:.1f} s ({own.describe() if own else uri})")
        settings = SubmissionsSettings.from_config(service_config())
        desk = Submissions(db, None, settings, NOW)

        lookups = [
            timed(lambda: db.applications.find_one({"_id": rng.choice(docs)["_id"]}))[1]
            for _ in range(args.samples)
        ]
        first, listed = pages(desk, {}, args.pages)
        one_department, _ = pages(desk, {"department": "25"}, 1)
        by_name, found = pages(desk, {"text": "saint"}, args.pages)
        desk.application_counts(YEAR)  # the first count, made while the page waits
        db.tallies.update_one({"_id": str(YEAR)}, {"$set": {"counted_at": NOW, "seconds": 1.0}})
        served = [timed(lambda: desk.application_counts(YEAR))[1] for _ in range(args.samples)]
        counts = [timed(lambda: desk._count_applications(YEAR))[1] for _ in range(args.whole)]

        def whole_read():  # what each page read before
            apps = list(db.applications.find({"campaign_year": YEAR}))
            return sorted(apps, key=lambda app: (fold(app["collectivite"]["name"]), app["_id"]))

        whole = [timed(whole_read)[1] for _ in range(args.whole)]

        baseline = statistics.median(lookups)
        print(f"\n{'stage':<52} {'count':>6} {'median ms':>11} {'p99 ms':>10}  vs baseline")
        line("baseline: one application by _id", lookups)
        line(f"list page, first {len(first)} ({listed} rows)", first, baseline)
        line("list page, one département (25)", one_department, baseline)
        line(f"list page, search 'saint' ({found} rows)", by_name, baseline)
        line("counts by state, tally served", served, baseline)
        line("counts by state, counted (each read, before)", counts, baseline)
        line("whole campaign read and sorted (each page, before)", whole, baseline)
    finally:
        if own is not None:
            own.close()


if __name__ == "__main__":
    main()
