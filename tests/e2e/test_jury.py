"""Jury over the running stack, through the real HTTP flow: campaign → sign-up
→ application → submit → review tasks → concurrent claims → reviews →
deliberation. Campaign years 2201-2299; INSEE codes <dd>95x (departments 01-12)."""

import collections
import uuid

import eventlet
import pytest

from tests.support.api import ok, open_campaign, poll

pytestmark = pytest.mark.e2e

YEAR = 2250


@pytest.fixture(scope="module")
def campaign(stack):
    """12 submitted applications x 2 reviews = 24 tasks; 10 jurors (departments 01-10)."""
    admin = stack.admin_token
    open_campaign(stack, YEAR, "Lille", reviews_per_application=2)
    detail = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=admin))
    enjeu = detail["grid"]["enjeux"][0]
    applications = []
    for index in range(12):
        department = f"{index + 1:02d}"
        insee = f"{department}95{index % 10}"
        signup = ok(
            stack.http(
                "POST",
                "/api/v1/collectivites",
                token=stack.admin_token,  # trusted: confirmed at once
                json={
                    "insee_code": insee,
                    "name": f"Commune {insee}",
                    "kind": "commune",
                    "population": 8000,
                    "region": "Grand Est",
                    "department": department,
                    "email": f"mairie-{insee}@jury.example.fr",
                },
            ),
            201,
        )
        app = ok(
            stack.http(
                "POST",
                "/api/v1/applications",
                token=signup["token"],
                json={
                    "campaign_year": YEAR,
                    "services": [enjeu["services"][0]["code"]],
                    "initiatives": [
                        {"title": "Tiers-lieu numérique", "enjeu": enjeu["code"], "description": "Ateliers."}
                    ],
                },
            ),
            201,
        )
        ok(stack.http("POST", f"/api/v1/applications/{app['id']}/submit", token=signup["token"]))
        applications.append({"id": app["id"], "insee": insee, "department": department})
    jurors = []
    for index in range(10):
        department = f"{index + 1:02d}"
        conflicts = [applications[(index + 1) % 12]["insee"]] if index % 3 == 0 else []
        body = {
            "name": f"Juré {department}",
            "email": f"jure-{uuid.uuid4().hex[:8]}@jury.example.fr",
            "department": department,
            "conflicts": conflicts,
        }
        jurors.append(dict(ok(stack.http("POST", "/api/v1/jurors", token=admin, json=body), 201), **body))
    # A juror of another department sees all 24 tasks once application_submitted has reached the jury.
    outsider = ok(
        stack.http(
            "POST",
            "/api/v1/jurors",
            token=admin,
            json={
                "name": "Juré 75",
                "email": f"jure-{uuid.uuid4().hex[:8]}@jury.example.fr",
                "department": "75",
            },
        ),
        201,
    )
    poll(
        lambda: ok(
            stack.http(
                "GET", f"/api/v1/review-tasks?state=open&campaign_year={YEAR}", token=outsider["token"]
            )
        ),
        lambda tasks: len(tasks) == 24,
    )
    return {"applications": applications, "jurors": jurors, "outsider": outsider, "grid": detail["grid"]}


def test_30_concurrent_claimers_hold_each_task_once(stack, campaign):
    held, statuses = [], collections.Counter()

    def claimer(juror):
        while True:
            response = stack.http(
                "POST", "/api/v1/review-tasks/claim", token=juror["token"], json={"campaign_year": YEAR}
            )
            statuses[response.status_code] += 1
            if response.status_code == 404:
                return
            held.append((juror, ok(response)))

    pool = eventlet.GreenPool(30)
    for index in range(30):
        pool.spawn(claimer, campaign["jurors"][index % 10])
    pool.waitall()

    ids = [task["id"] for _, task in held]
    assert len(ids) == len(set(ids)) == 24, statuses
    assert max(collections.Counter((j["id"], t["application_id"]) for j, t in held).values()) == 1
    for juror, task in held:
        assert task["claimed_by"] == juror["id"]
        assert task["collectivite"]["department"] != juror["department"]
        assert task["collectivite"]["insee_code"] not in juror["conflicts"]

    # A review from a juror who does not hold the claim: 409; from the holder: 200.
    juror, task = held[0]
    other = next(j for j in campaign["jurors"] if j["id"] != juror["id"])
    body = {
        "scores": {e["code"]: 3 for e in campaign["grid"]["enjeux"]},
        "arobases": 4,
        "mentions": [],
        "comment": "Démarche exemplaire.",
    }
    refused = stack.http("POST", f"/api/v1/review-tasks/{task['id']}/review", token=other["token"], json=body)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "claim_not_held"
    assert (
        ok(stack.http("POST", f"/api/v1/review-tasks/{task['id']}/review", token=juror["token"], json=body))[
            "state"
        ]
        == "done"
    )
    # Both reviews of that application in → it shows in the deliberation with a proposal.
    sibling_juror, sibling = next(
        (j, t) for j, t in held if t["application_id"] == task["application_id"] and t["id"] != task["id"]
    )
    ok(
        stack.http(
            "POST",
            f"/api/v1/review-tasks/{sibling['id']}/review",
            token=sibling_juror["token"],
            json=dict(body, arobases=3),
        )
    )
    rows = poll(
        lambda: ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/deliberation", token=stack.admin_token)),
        lambda rows: any(r["application_id"] == task["application_id"] and r["proposal"] for r in rows),
    )
    row = next(r for r in rows if r["application_id"] == task["application_id"])
    assert row["proposal"]["arobases"] == 3 and row["disagreement"] is False and len(row["reviews"]) == 2
    assert len(rows) == 12
