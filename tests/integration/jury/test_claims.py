"""Claims over HTTP under concurrency, leases, holders (issue 4, "Must show")."""

import collections

import eventlet

from tests.support.api import wait_until

YEAR = 2201


def test_30_concurrent_claimers_10_jurors_24_tasks(jury_config, make_harness):
    h = make_harness(jury_config)
    # 10 jurors in departments 01..10; some declare conflicts.
    jurors = []
    for index in range(10):
        department = f"{index + 1:02d}"
        conflicts = [f"{(index + 1) % 12 + 1:02d}001"] if index % 3 == 0 else []
        jurors.append(dict(h.juror(department, conflicts), department=department, conflicts=conflicts))
    # 12 applications x 2 reviews = 24 tasks, collectivités in departments 01..12.
    for index in range(12):
        h.submit(YEAR, f"{index + 1:02d}001", f"{index + 1:02d}")
    wait_until(lambda: h.db["tasks"].count_documents({"campaign_year": YEAR}) == 24)

    held = []  # (juror, task view)
    statuses = collections.Counter()

    def claimer(juror):
        while True:
            response = h.http("POST", "/api/v1/review-tasks/claim", juror["token"], {"campaign_year": YEAR})
            statuses[response.status_code] += 1
            if response.status_code == 404:
                assert response.json()["error"]["code"] == "no_task_available"
                return
            assert response.status_code == 200, response.text
            held.append((juror, response.json()))

    pool = eventlet.GreenPool(30)
    for index in range(30):
        pool.spawn(claimer, jurors[index % 10])
    pool.waitall()

    task_ids = [task["id"] for _, task in held]
    assert len(task_ids) == len(set(task_ids)) == 24, statuses  # every task held exactly once
    per_juror_app = collections.Counter((juror["id"], task["application_id"]) for juror, task in held)
    assert max(per_juror_app.values()) == 1  # never two tasks of one application
    for juror, task in held:
        assert task["state"] == "claimed" and task["claimed_by"] == juror["id"]
        assert task["collectivite"]["department"] != juror["department"]
        assert task["collectivite"]["insee_code"] not in juror["conflicts"]
    # The database agrees: each task claimed once (version 2), by the juror the API named.
    stored = {task["_id"]: task for task in h.db["tasks"].find({"campaign_year": YEAR})}
    assert all(stored[t["id"]]["version"] == 2 and stored[t["id"]]["claimed_by"] == j["id"] for j, t in held)
    # first_claim: exactly one per application
    claimed_events = h.events("review_task_claimed")
    assert len(claimed_events) == 24
    assert sorted(e["application_id"] for e in claimed_events if e["first_claim"]) == sorted(
        {t["application_id"] for _, t in held}
    )
    # Each juror sees exactly their own tasks as claimed.
    for juror in jurors:
        mine = h.http("GET", "/api/v1/review-tasks?state=claimed", juror["token"]).json()
        assert sorted(t["id"] for t in mine) == sorted(t["id"] for j, t in held if j["id"] == juror["id"])


def test_lease_expiry_returns_the_task_and_only_the_holder_may_review(jury_config, make_harness):
    h = make_harness(dict(jury_config, CLAIM_LEASE_SECONDS=1.5))
    first, second, outsider = h.juror("75"), h.juror("13"), h.juror("33")
    h.submit(YEAR + 1, "67482", "67", reviews=1)
    wait_until(lambda: h.db["tasks"].count_documents({"campaign_year": YEAR + 1}) == 1)

    task = h.http("POST", "/api/v1/review-tasks/claim", first["token"], {"campaign_year": YEAR + 1}).json()
    assert task["claimed_by"] == first["id"]
    review = {
        "scores": {"acces": 3, "communication": 2, "culture": 1},
        "arobases": 3,
        "mentions": [],
        "comment": "Bien.",
    }
    # Not the holder: 409, even from a juror who could claim it.
    refused = h.http("POST", f"/api/v1/review-tasks/{task['id']}/review", outsider["token"], review)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "claim_not_held"
    assert h.http("POST", f"/api/v1/review-tasks/{task['id']}/release", outsider["token"]).status_code == 409
    # Nothing to claim for the others while the lease runs…
    busy = h.http("POST", "/api/v1/review-tasks/claim", second["token"], {"campaign_year": YEAR + 1})
    assert busy.status_code == 404
    # …then the lease runs out and the task is back in the pool.
    wait_until(
        lambda: (
            [
                t["id"]
                for t in h.http(
                    "GET", f"/api/v1/review-tasks?state=open&campaign_year={YEAR + 1}", second["token"]
                ).json()
            ]
            == [task["id"]]
        ),
        timeout=10,
    )
    again = h.http("POST", "/api/v1/review-tasks/claim", second["token"], {"campaign_year": YEAR + 1})
    assert again.status_code == 200 and again.json()["id"] == task["id"]
    assert again.json()["claimed_by"] == second["id"]
    # The first holder lost it: the review is refused.
    late = h.http("POST", f"/api/v1/review-tasks/{task['id']}/review", first["token"], review)
    assert late.status_code == 409
    ok = h.http("POST", f"/api/v1/review-tasks/{task['id']}/review", second["token"], review)
    assert ok.status_code == 200, ok.text
    assert ok.json()["state"] == "done"
    # A review after it is done (same holder) is a conflict too.
    assert (
        h.http("POST", f"/api/v1/review-tasks/{task['id']}/review", second["token"], review).status_code
        == 409
    )


def test_release_by_the_holder_reopens_the_task(jury_config, make_harness):
    h = make_harness(jury_config)
    juror, other = h.juror("75"), h.juror("13")
    h.submit(YEAR + 2, "67482", "67", reviews=1)
    wait_until(lambda: h.db["tasks"].count_documents({"campaign_year": YEAR + 2}) == 1)
    task = h.http("POST", "/api/v1/review-tasks/claim", juror["token"], {"campaign_year": YEAR + 2}).json()
    released = h.http("POST", f"/api/v1/review-tasks/{task['id']}/release", juror["token"])
    assert released.status_code == 200 and released.json()["state"] == "open"
    again = h.http("POST", "/api/v1/review-tasks/claim", other["token"], {"campaign_year": YEAR + 2})
    assert again.json()["id"] == task["id"]
    # the first claim of the application was announced once only
    assert [e["first_claim"] for e in h.events("review_task_claimed")] == [True, False]


def test_the_open_tasks_are_read_a_page_at_a_time_by_id(jury_config, make_harness):
    """GET /review-tasks?state=open pages through the tasks a juror may claim
    by id (the service reads shelf by shelf until one page and one more task
    are found, not every open task): the juror's own department, their own
    application and a held task are left out across the pages."""
    h = make_harness(jury_config)
    juror, other = h.juror("05"), h.juror("06")
    for index in range(6):  # 01001..06001: 12 tasks, two in the juror's department 05
        h.submit(YEAR + 2, f"{index + 1:02d}001", f"{index + 1:02d}")
    wait_until(lambda: h.db["tasks"].count_documents({"campaign_year": YEAR + 2}) == 12)
    mine = h.http("POST", "/api/v1/review-tasks/claim", juror["token"], {"campaign_year": YEAR + 2}).json()
    held = h.http("POST", "/api/v1/review-tasks/claim", other["token"], {"campaign_year": YEAR + 2}).json()
    pages, cursor = [], None
    while True:
        query = f"state=open&campaign_year={YEAR + 2}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        response = h.http("GET", f"/api/v1/review-tasks?{query}", juror["token"])
        assert response.status_code == 200, response.text
        pages.append([task["id"] for task in response.json()])
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    listed = [task_id for page in pages for task_id in page]
    expected = sorted(
        task["_id"]
        for task in h.db["tasks"].find({"campaign_year": YEAR + 2})
        if task["collectivite"]["department"] != "05"
        and task["application_id"] != mine["application_id"]
        and task["_id"] != held["id"]
    )
    assert listed == expected and len(expected) >= 6
    assert [len(page) for page in pages][:-1] == [3] * (len(pages) - 1)
