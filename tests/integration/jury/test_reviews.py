"""Task creation from events, reviews, consolidation, withdrawal, deliberation, digest."""

from datetime import UTC, datetime, timedelta

from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from tests.support.api import wait_until

YEAR = 2210


def review(arobases, mentions=(), acces=2):
    return {
        "scores": {"acces": acces, "communication": 2, "culture": 3},
        "arobases": arobases,
        "mentions": list(mentions),
        "comment": "RAS",
    }


def claim_and_review(h, juror, year, body):
    task = h.http("POST", "/api/v1/review-tasks/claim", juror["token"], {"campaign_year": year})
    assert task.status_code == 200, task.text
    done = h.http("POST", f"/api/v1/review-tasks/{task.json()['id']}/review", juror["token"], body)
    assert done.status_code == 200, done.text
    return task.json()


def deliberation(h, year):
    with entrypoint_hook(h.jury, "deliberation") as call:
        return call(year)


def test_tasks_created_once_however_often_the_event_arrives(jury_config, make_harness):
    h = make_harness(jury_config)
    payload = h.submit(YEAR, "57463", "57", reviews=3)
    wait_until(lambda: len(h.tasks_of(payload["application_id"])) == 3)
    # the same event again, and a second delivery under another id (a re-publish by a new change)
    with entrypoint_waiter(h.jury, "on_application_submitted"):
        h.submit(YEAR, "57463", "57", reviews=3)
    with entrypoint_waiter(h.jury, "on_application_submitted"):
        h.submit(YEAR, "57463", "57", reviews=3, event_id="applications:app-2210-57463:9:0")
    assert sorted(t["_id"] for t in h.tasks_of(payload["application_id"])) == [
        f"{payload['application_id']}:{n}" for n in (1, 2, 3)
    ]


def test_agreeing_reviews_make_a_proposal_and_application_reviewed(jury_config, make_harness):
    h = make_harness(jury_config)
    a, b = h.juror("75"), h.juror("13")
    payload = h.submit(YEAR + 1, "35238", "35")
    wait_until(lambda: len(h.tasks_of(payload["application_id"])) == 2)
    task = h.http("POST", "/api/v1/review-tasks/claim", a["token"], {"campaign_year": YEAR + 1}).json()
    for bad, field in (
        (dict(review(3), scores={"acces": 9}), "scores.acces.value"),
        (dict(review(3), **{"$where": 1}), "$where"),
        (dict(review(3), scores={"acces": 1, "communication": 1}), "scores"),
        (dict(review(6)), "arobases"),
    ):
        refused = h.http("POST", f"/api/v1/review-tasks/{task['id']}/review", a["token"], bad)
        assert refused.status_code == 422 and field in refused.json()["error"]["fields"], refused.text
    assert (
        h.http(
            "POST",
            f"/api/v1/review-tasks/{task['id']}/review",
            a["token"],
            review(4, ["teletravail"], acces=4),
        ).status_code
        == 200
    )
    claim_and_review(h, b, YEAR + 1, review(3, ["teletravail", "accessibilite"], acces=1))

    [row] = deliberation(h, YEAR + 1)
    assert row["proposal"] == {"arobases": 3, "mentions": ["teletravail"]}  # lower median; majority
    assert row["disagreement"] is False and row["review_state"] == "reviewed"
    assert row["spread"]["acces"] == {"min": 1, "max": 4, "spread": 3}
    assert len(row["reviews"]) == 2
    [event] = h.events("application_reviewed")
    assert event["proposal"] == row["proposal"] and len(event["reviews"]) == 2
    assert len(h.events("review_submitted")) == 2


def test_disagreement_opens_one_extra_review_and_the_proposal_waits(jury_config, make_harness):
    h = make_harness(jury_config)
    a, b, c, d = h.juror("75"), h.juror("13"), h.juror("33"), h.juror("59")
    payload = h.submit(YEAR + 2, "35238", "35")
    wait_until(lambda: len(h.tasks_of(payload["application_id"])) == 2)
    claim_and_review(h, a, YEAR + 2, review(1))
    claim_and_review(h, b, YEAR + 2, review(4))
    [row] = deliberation(h, YEAR + 2)
    assert row["proposal"] is None and row["disagreement"] is True
    assert row["review_state"] == "waiting_extra_review" and row["reviews_expected"] == 3
    assert h.events("application_reviewed") == []
    claim_and_review(h, c, YEAR + 2, review(5))
    [row] = deliberation(h, YEAR + 2)
    assert (
        row["proposal"]["arobases"] == 4 and row["disagreement"] is True and row["review_state"] == "reviewed"
    )
    # once only: nothing more to claim
    assert (
        h.http("POST", "/api/v1/review-tasks/claim", d["token"], {"campaign_year": YEAR + 2}).status_code
        == 404
    )
    assert len(h.events("application_reviewed")) == 1


def test_withdrawal_cancels_open_and_claimed_tasks(jury_config, make_harness):
    h = make_harness(jury_config)
    a = h.juror("75")
    payload = h.submit(YEAR + 3, "35238", "35")
    wait_until(lambda: len(h.tasks_of(payload["application_id"])) == 2)
    task = h.http("POST", "/api/v1/review-tasks/claim", a["token"], {"campaign_year": YEAR + 3}).json()
    with entrypoint_waiter(h.jury, "on_application_withdrawn"):
        h.withdraw(payload)
    assert {t["state"] for t in h.tasks_of(payload["application_id"])} == {"cancelled"}
    refused = h.http("POST", f"/api/v1/review-tasks/{task['id']}/review", a["token"], review(3))
    assert refused.status_code == 409
    assert deliberation(h, YEAR + 3)[0]["review_state"] == "withdrawn"


def test_digest_one_event_per_juror_per_batch(jury_config, make_harness):
    h = make_harness(jury_config)
    paris, lyon = h.juror("75"), h.juror("69", conflicts=["35238"])
    for insee, department in (("35238", "35"), ("75056", "75"), ("44109", "44")):
        h.submit(YEAR + 4, insee, department)
    wait_until(lambda: h.db["tasks"].count_documents({"campaign_year": YEAR + 4}) == 6)

    def run_digest():
        with entrypoint_hook(h.jury, "send_digests") as call:
            return call()

    assert run_digest() == 2
    digests = {e["juror"]["id"]: e["open_tasks"] for e in h.events("review_tasks_available")}
    assert digests == {paris["id"]: 4, lyon["id"]: 4}  # own department / declared conflict left out
    assert run_digest() == 0  # nothing new: no second digest
    h.submit(YEAR + 4, "13055", "13")
    wait_until(lambda: h.db["tasks"].count_documents({"campaign_year": YEAR + 4}) == 8)
    assert run_digest() == 2
    assert len(h.events("review_tasks_available")) == 4


def test_a_dear_campaign_progress_is_served_then_recounted_by_the_timer(jury_config, make_harness):
    """tallies.py in the real service: a tally as a long count would have left it
    (5 s, a minute ago) is served as it is; the timer counts it again."""
    h = make_harness(jury_config)
    year = YEAR + 5
    payload = h.submit(year, "35238", "35")
    wait_until(lambda: len(h.tasks_of(payload["application_id"])) == 2)
    stale = {"tasks": {}, "reviews_done": 0, "reviews_outstanding": 0}
    h.db["tallies"].insert_one(
        {
            "_id": str(year),
            "what": [year],
            "counts": stale,
            "counted_at": datetime.now(UTC) - timedelta(minutes=1),
            "seconds": 5.0,
            "asked": False,
        }
    )

    def progress():
        with entrypoint_hook(h.jury, "campaign_progress") as call:
            return call(year)

    served = progress()
    assert served["counts"] == stale and served["recounting"] is True
    wait_until(lambda: h.db["tallies"].find_one({"_id": str(year)})["asked"] is False, timeout=20)
    fresh = progress()
    assert fresh["counts"]["reviews_outstanding"] == 2 and fresh["counts"]["tasks"] == {"open": 2}
    assert fresh["recounting"] is False
