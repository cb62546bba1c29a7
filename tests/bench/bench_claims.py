"""Claim latency under 30 concurrent claimers, against a baseline measured in
the same run: an authenticated GET through the gateway that does one RPC and
one `_id` lookup (GET /api/v1/jurors/me).

Starts the whole system as real processes in an isolated vhost / database
prefix (tests/support/stack.py) against the running RabbitMQ and FerretDB,
feeds `application_submitted` events for one campaign (and optionally
`--background` tasks of another campaign, to show what the claim's scan of
the task collection costs), then:
  1. baseline: 30 threads × GET /api/v1/jurors/me, `--samples` requests in all;
  2. claims:   30 threads (10 jurors) claim until no task is left.

    .venv/bin/python tests/bench/bench_claims.py [--tasks 600] [--background 0]
"""

import argparse
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nameko.standalone.events import event_dispatcher  # noqa: E402

from tests.support.bench import hammer, percentile  # noqa: E402
from tests.support.ferretdb import private_ferretdb  # noqa: E402
from tests.support.stack import Stack  # noqa: E402

YEAR, BACKGROUND_YEAR = 2290, 2291
ENJEUX = ["acces", "communication", "culture"]


def feed(stack, year, applications, reviews):
    dispatch = event_dispatcher({"AMQP_URI": stack.amqp_uri})
    for index in range(applications):
        department = f"{index % 90 + 1:02d}"
        if department == "20":
            department = "21"
        app_id = f"bench-{year}-{index}"
        dispatch(
            "submissions",
            "application_submitted",
            {
                "event_id": f"bench:{app_id}",
                "event": "application_submitted",
                "occurred_at": "2290-03-01T10:00:00+00:00",
                "application_id": app_id,
                "campaign_year": year,
                "collectivite": {
                    "id": f"col-{app_id}",
                    "insee_code": f"{department}{index % 1000:03d}",
                    "name": f"Commune {index}",
                    "kind": "commune",
                    "category": "ville",
                    "department": department,
                    "region": "Grand Est",
                    "population": 5000,
                    "email": None,
                    "member_communes": [],
                },
                "services": [],
                "initiatives": [],
                "reviews_per_application": reviews,
                "enjeux": ENJEUX,
                "mentions": [],
                "submitted_at": "2290-03-01T10:00:00+00:00",
            },
        )


def wait_tasks(stack, year, count, timeout):
    db = stack.mongo("jury")
    deadline = time.monotonic() + timeout
    while db["tasks"].count_documents({"campaign_year": year}) < count:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"only {db['tasks'].count_documents({'campaign_year': year})}/{count} tasks created"
            )
        time.sleep(0.5)


def summary(name, latencies, statuses, wall):
    median, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    print(
        f"{name:<9} n={len(latencies):<5} median={median:7.1f} ms  p99={p99:7.1f} ms  "
        f"throughput={len(latencies) / wall:6.1f} req/s  statuses={statuses}"
    )
    return median, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=600, help="claimable tasks (2 per application)")
    parser.add_argument(
        "--background", type=int, default=0, help="tasks of another campaign in the collection"
    )
    parser.add_argument("--threads", type=int, default=30)
    parser.add_argument("--jurors", type=int, default=10)
    parser.add_argument("--samples", type=int, default=600, help="baseline requests")
    args = parser.parse_args()

    amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    api = f"http://{urlsplit(amqp).hostname or '127.0.0.1'}:15672"
    mongodb_uri, ferret = private_ferretdb()
    print(f"MongoDB: {mongodb_uri}{f' (private {ferret.describe()})' if ferret else ''}", flush=True)
    stack = Stack(amqp, mongodb_uri, rabbit_api=api, extra_env={"REVIEW_DIGEST_SECONDS": "3600"})
    print(f"starting the stack (logs in {stack.log_dir}) ...", flush=True)
    stack.start_all()
    try:
        jurors = []
        for index in range(args.jurors):
            response = stack.http(
                "POST",
                "/api/v1/jurors",
                token=stack.admin_token,
                json={
                    "name": f"Juré {index}",
                    "email": f"bench-{uuid.uuid4().hex[:8]}@example.fr",
                    "department": "971",
                    "conflicts": [],
                },
            )
            response.raise_for_status()
            jurors.append(response.json()["token"])
        started = time.monotonic()
        if args.background:
            feed(stack, BACKGROUND_YEAR, args.background // 2, 2)
        feed(stack, YEAR, args.tasks // 2, 2)
        wait_tasks(stack, BACKGROUND_YEAR, (args.background // 2) * 2, 600)
        wait_tasks(stack, YEAR, (args.tasks // 2) * 2, 600)
        print(
            f"{args.tasks} tasks (+{args.background} of another campaign) created in "
            f"{time.monotonic() - started:.1f} s",
            flush=True,
        )
        headers = [{"Authorization": f"Bearer {token}"} for token in jurors]
        base = stack.api

        remaining = [args.samples]
        lock = threading.Lock()

        def baseline(index, session, record):
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                t0 = time.perf_counter()
                response = session.get(f"{base}/jurors/me", headers=headers[index % len(headers)], timeout=60)
                record(t0, response.status_code)

        def claims(index, session, record):
            while True:
                t0 = time.perf_counter()
                response = session.post(
                    f"{base}/review-tasks/claim",
                    headers=headers[index % len(headers)],
                    json={"campaign_year": YEAR},
                    timeout=60,
                )
                record(t0, response.status_code)
                if response.status_code != 200:
                    return

        print(f"{args.threads} concurrent clients, {args.jurors} jurors:")
        b_median, b_p99 = summary("baseline", *hammer(args.threads, baseline))
        latencies, statuses, wall = hammer(args.threads, claims)
        c_median, c_p99 = summary("claim", latencies, statuses, wall)
        held = stack.mongo("jury")["tasks"].count_documents({"campaign_year": YEAR, "state": "claimed"})
        print(f"tasks claimed: {held}/{(args.tasks // 2) * 2}")
        print(f"ratio claim/baseline: median x{c_median / b_median:.1f}, p99 x{c_p99 / b_p99:.1f}")
    finally:
        stack.stop_all()
        if ferret:
            ferret.close()


if __name__ == "__main__":
    main()
