"""The deliberation, page by page (the jury reads shelves, services/jury/logic.py),
against what a page cost before (the whole campaign read for every page) and a
baseline measured in the same run: one `_id` lookup of an application.

A synthetic campaign of --applications applications, consolidated, two
reviewed tasks each (dossier and review sizes as the label's), is written straight into a jury
database of a throw-away FerretDB (tests/support/ferretdb.py, the default
backend; MONGODB_URI to use another server), then:
  1. baseline: --samples `_id` lookups of random applications;
  2. pages:    every page of --limit rows, cursor after cursor, the shelf
               list read at each page, then kept by the process (as the service);
  3. whole:    the whole campaign's rows, as each page read them before;
  4. disagreements: every page of the disagreements view (one application in
               --disagree-every disagrees), against the former reads: each
               widest shelf filtered by `disagreement: true` (a lower bound:
               the former view began on the narrowest shelves); then the
               same once no application disagrees.

    .venv/bin/python tests/bench/bench_deliberation.py [--applications 3500] [--limit 200]
"""

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.common.mongo import make_client  # noqa: E402
from services.common.shelves import SHELF_WIDTHS, disputed_fields, shelf, shelf_fields  # noqa: E402
from services.jury.logic import JuryDesk  # noqa: E402
from services.jury.repository import Repositories, ShelfLists, ensure_indexes  # noqa: E402
from services.jury.service import SHELF_LIST_SECONDS  # noqa: E402
from tests.support.bench import stage_line, timed  # noqa: E402
from tests.support.ferretdb import private_ferretdb  # noqa: E402

YEAR = 2292
ENJEUX = ["acces", "administration", "communication", "culture", "economie", "education"]
MENTIONS = ["teletravail", "accessibilite", "gouvernement_ouvert"]
NOW = datetime(2292, 11, 1, tzinfo=UTC)
TEXT = "Portail citoyen, démarches en ligne et ateliers d'inclusion numérique à la médiathèque. "


def codes(count, rng):
    departments = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]
    return sorted(rng.sample([f"{d}{n:03d}" for d in departments for n in range(1000)], count))


def documents(count, rng, disagree_every):
    apps, tasks = [], []
    for index, code in enumerate(codes(count, rng)):
        app_id = f"{YEAR}:{code}"
        disagreement = index % disagree_every == 0
        collectivite = {
            "id": code,
            "insee_code": code,
            "name": f"Commune {code}",
            "kind": "commune",
            "category": "ville",
            "department": code[:2],
            "region": "Occitanie",
            "population": rng.randint(100, 90000),
            "email": f"mairie-{code}@bench-deliberation.example.fr",
        }
        scores = [{enjeu: rng.randint(1, 5) for enjeu in ENJEUX} for _ in (1, 2)]
        apps.append(
            {
                "_id": app_id,
                "campaign_year": YEAR,
                "collectivite": collectivite,
                "enjeux": ENJEUX,
                "mentions": MENTIONS,
                "services": [f"{enjeu}-{n}" for enjeu in ENJEUX for n in range(3)],
                "initiatives": [
                    {"title": f"Initiative {n}", "enjeu": ENJEUX[n], "description": TEXT * 3}
                    for n in range(3)
                ],
                "submitted_at": "2292-06-01T10:00:00+00:00",
                "expected": 2,
                "extra_review": False,
                "state": "reviewed",
                "proposal": {"arobases": 3, "mentions": MENTIONS[:1]},
                "disagreement": disagreement,
                "spread": {enjeu: abs(scores[0][enjeu] - scores[1][enjeu]) for enjeu in ENJEUX},
                "created_at": NOW,
                **shelf_fields(app_id),
                **disputed_fields(app_id, disagreement),
            }
        )
        refs = []
        for n in (1, 2):
            review = {
                "juror_id": f"juror-{rng.randint(1, 300)}",
                "arobases": rng.randint(1, 5),
                "mentions": MENTIONS[:n],
                "scores": scores[n - 1],
                "comment": TEXT * 2,
                "submitted_at": NOW - timedelta(days=n),
            }
            refs.append(
                {
                    "review_id": f"{app_id}:{n}",
                    **{key: review[key] for key in ("juror_id", "arobases", "mentions", "scores", "comment")},
                    "submitted_at": review["submitted_at"].isoformat(),
                }
            )
            tasks.append(
                {
                    "_id": f"{app_id}:{n}",
                    "application_id": app_id,
                    "n": n,
                    "campaign_year": YEAR,
                    "collectivite": collectivite,
                    "state": "done",
                    "claimed_by": review["juror_id"],
                    "lease_expires_at": None,
                    "created_at": NOW,
                    "review": review,
                    **shelf_fields(app_id),
                }
            )
        apps[-1]["reviews"] = refs  # as its consolidation stores them
    return apps, tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applications", type=int, default=3500)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--whole", type=int, default=3, help="times the whole campaign is read")
    parser.add_argument("--disagree-every", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(11)
    uri, own = private_ferretdb("bench-deliberation-")
    try:
        db = make_client(uri)[f"bench_deliberation_{rng.getrandbits(32):08x}_jury"]
        ensure_indexes(db)
        repos = Repositories(db)
        apps, tasks = documents(args.applications, rng, args.disagree_every)
        started = time.perf_counter()
        for name, docs in (("applications", apps), ("tasks", tasks)):
            for start in range(0, len(docs), 1000):
                db[name].insert_many(docs[start : start + 1000])
        for app in apps:
            repos.shelves.add(YEAR, shelf(app["_id"], max(SHELF_WIDTHS)))
        seconds = time.perf_counter() - started
        where = own.describe() if own else uri
        print(f"{len(apps)} applications and {len(tasks)} tasks written in {seconds:.1f} s ({where})")
        desk = JuryDesk(repos, None, timedelta(hours=48), NOW)
        # As the service runs it: the shelf list kept by the process.
        kept = JuryDesk(repos, None, timedelta(hours=48), NOW, shelf_lists=ShelfLists(SHELF_LIST_SECONDS))

        def every_page(desk, disagreements=False):
            pages, after, rows = [], None, 0
            while True:
                page, ms = timed(
                    lambda after=after: desk.deliberation_page(YEAR, after, args.limit, disagreements)
                )
                pages.append(ms)
                rows += len(page["rows"])
                after = page["next"]
                if after is None:
                    break
            expected = sum(bool(app["disagreement"]) for app in apps) if disagreements else len(apps)
            if rows != expected:
                raise SystemExit(f"pages gave {rows} rows for {expected} applications")
            return pages

        def former_disagreements():
            widest = sorted({shelf(app["_id"], min(SHELF_WIDTHS)) for app in apps})
            query = {"campaign_year": YEAR, "disagreement": True}
            row = {"services": 0, "initiatives": 0}  # a deliberation row's projection
            return sum(len(list(db.applications.find(dict(query, shelf_1=name), row))) for name in widest)

        lookups = [
            timed(lambda: repos.applications.get(rng.choice(apps)["_id"]))[1] for _ in range(args.samples)
        ]
        pages = every_page(desk)
        kept_pages = every_page(kept)
        whole = [timed(lambda: desk.deliberation(YEAR))[1] for _ in range(args.whole)]
        disputed_pages = every_page(kept, disagreements=True)
        former = [timed(former_disagreements)[1] for _ in range(args.whole)]
        # The same campaign without one disagreement (the national bench's reviews).
        agreed = {"disagreement": False, **disputed_fields(apps[0]["_id"], False)}
        db.applications.update_many({"disagreement": True}, {"$set": agreed})
        for app in apps:
            app["disagreement"] = False
        empty_pages = [ms for _ in range(args.whole) for ms in every_page(kept, disagreements=True)]
        empty_former = [timed(former_disagreements)[1] for _ in range(args.whole)]

        baseline = statistics.median(lookups)
        print(f"\n{'stage':<36} {'count':>6} {'median ms':>11} {'p99 ms':>10}  vs baseline")
        stage_line("baseline: one application by _id", lookups)
        stage_line(f"deliberation page ({args.limit} rows)", pages, baseline)
        stage_line("  the same, shelf list kept", kept_pages, baseline)
        stage_line("whole campaign (each page, before)", whole, baseline)
        stage_line("disagreements view page", disputed_pages, baseline)
        stage_line("  its former reads (all, at least)", former, baseline)
        stage_line("  the view without a disagreement", empty_pages, baseline)
        stage_line("  its former reads", empty_former, baseline)
    finally:
        if own is not None:
            own.close()


if __name__ == "__main__":
    main()
