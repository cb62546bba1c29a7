"""Baromètre at national scale (issue 16): the time to compute it for 35,000
applications and the time of its pages, on a fresh local FerretDB.

    .venv/bin/python tests/bench/bench_barometre.py [--applications 35000] [--runs 20]

Measured: the pure computation (generated applications in memory); the whole
release step of the submissions service (`publish_barometre`: reading the
campaign's submitted applications from FerretDB, computing, writing the
directory's entries and the baromètre document); then, from those documents,
the pages' work in process: the baromètre (read + view + jinja rendering with
its SVG charts) and the directory (query + rendering), as the gateway does
them minus the RPC hop (a few ms over RabbitMQ, not measured here: a full
35,000-application stack is too heavy for the shared 2-core machine).
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pymongo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from services.common.french import CATEGORY_LABELS  # noqa: E402
from services.gateway.routes.awards import html  # noqa: E402
from services.gateway.routes.barometre import BANDS, REGIONS, barometre_charts  # noqa: E402
from services.submissions import barometre  # noqa: E402
from services.submissions.logic import Submissions  # noqa: E402
from tests.support import barometre_data  # noqa: E402
from tests.support.net import free_port, wait_tcp  # noqa: E402

FERRETDB = ROOT / "var" / "bin" / "ferretdb-local"
YEAR = 2027


def timed(fn, runs):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--applications", type=int, default=35000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    generated = barometre_data.applications(args.applications)
    apps = barometre_data.stored(generated, YEAR)
    for index, app in enumerate(apps):  # distinct ids beyond the generator's 1,000 codes
        app["_id"] = f"{YEAR}:{index:06d}"
        app["collectivite"]["id"] = app["collectivite"]["insee_code"] = f"{index:06d}"
    campaign = {
        "_id": str(YEAR),
        "year": YEAR,
        "grid": barometre_data.GRID,
        "released_at": datetime(YEAR, 11, 20, 18, tzinfo=UTC),
    }
    initiatives = sum(len(app["initiatives"]) for app in apps)
    print(
        f"{args.applications} applications, {initiatives} initiatives, "
        f"{len(barometre_data.SERVICES)} services in the grid"
    )

    started = time.perf_counter()
    document, entries = barometre.compute(campaign, apps, "2027-11-20T18:00:00+00:00")
    print(f"pure computation: {time.perf_counter() - started:.2f} s ({len(entries)} directory entries)")

    port, data = free_port(), tempfile.mkdtemp(prefix="bench-barometre-")
    proc = subprocess.Popen(
        [str(FERRETDB), "-listen", f"127.0.0.1:{port}", "-dir", data],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_tcp("127.0.0.1", port, timeout=20, what="FerretDB")
        db = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", tz_aware=True)["label_submissions"]
        started = time.perf_counter()
        db["campaigns"].insert_one(campaign)
        for start in range(0, len(apps), 2000):
            db["applications"].insert_many(apps[start : start + 2000])
        print(f"(setup) {len(apps)} applications stored in {time.perf_counter() - started:.1f} s")

        desk = Submissions(db, None, None, datetime.now(UTC))
        started = time.perf_counter()
        desk.publish_barometre(db["campaigns"].find_one({"_id": str(YEAR)}))
        print(
            f"release step (read {len(apps)} applications + compute + write {len(entries)} entries "
            f"+ baromètre): {time.perf_counter() - started:.1f} s (target: under 60 s)"
        )
        time.sleep(1.5)  # the _id indexer of our FerretDB runs every second

        def barometre_page():
            view = desk.barometre(YEAR)
            html(
                "barometre_year.html",
                view=view,
                charts=barometre_charts(view),
                category_labels=CATEGORY_LABELS,
            )

        def directory(filters):
            def run():
                found = desk.search_initiatives(filters)
                html(
                    "initiatives.html",
                    filters=filters,
                    errors={},
                    found=found,
                    following=None,
                    years=[YEAR],
                    enjeux=barometre_data.GRID["enjeux"],
                    regions=REGIONS,
                    bands=BANDS,
                    category_labels=CATEGORY_LABELS,
                )

            return run

        cursor = desk.search_initiatives({"limit": 100})["next_cursor"]
        cases = [
            ("page /barometre/{year}", barometre_page),
            ("page /initiatives (no filter)", directory({})),
            ("page /initiatives?q=mediatheques", directory({"q": "médiathèques"})),
            (
                "page /initiatives?region=Bretagne&enjeu=culture",
                directory({"region": "Bretagne", "enjeu": "culture"}),
            ),
            ("page /initiatives next page (cursor)", directory({"cursor": cursor})),
            ("page /initiatives?q=zorglub (nothing)", directory({"q": "zorglub"})),
        ]
        print(f"{'page (in process, minus the RPC hop)':<52} {'median ms':>10} {'max ms':>8}")
        for name, fn in cases:
            median, worst = timed(fn, args.runs)
            print(f"{name:<52} {median:>10.1f} {worst:>8.1f}")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
