"""The pipes, end to end: one application travels submissions → jury →
awards → notifications by events over the real RabbitMQ, each service writing
its own database (FerretDB), and ends in emails the SMTP capture received."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.api import ok, poll

pytestmark = pytest.mark.e2e

YEAR = 2001  # this module's campaign years: 2001-2099


def iso(moment):
    return moment.isoformat()


def test_one_application_travels_to_its_result_email(stack):
    admin = stack.admin_token
    now = datetime.now(UTC)
    campaign = ok(
        stack.http(
            "POST",
            "/api/v1/campaigns",
            token=admin,
            json={
                "year": YEAR,
                "title": "Label Territoires, Villes et Villages Internet 2001",
                "submissions_open_at": iso(now - timedelta(hours=1)),
                "submissions_close_at": iso(now + timedelta(hours=2)),
                "ceremony_at": iso(now + timedelta(days=30)),
                "ceremony_place": "Lille",
                "reviews_per_application": 2,
            },
        ),
        201,
    )
    grid = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=admin))["grid"]
    enjeu = grid["enjeux"][0]

    signup = ok(
        stack.http(
            "POST",
            "/api/v1/collectivites",
            token=stack.admin_token,  # trusted: confirmed at once
            json={
                "insee_code": "47001",
                "name": "Agen",
                "kind": "commune",
                "population": 33000,
                "region": "Nouvelle-Aquitaine",
                "department": "47",
                "email": "numerique@agen.example.fr",
            },
        ),
        201,
    )
    assert signup["category"] == "ville"
    town = signup["token"]

    application = ok(
        stack.http(
            "POST",
            "/api/v1/applications",
            token=town,
            json={
                "campaign_year": YEAR,
                "services": [service["code"] for service in enjeu["services"][:2]],
                "initiatives": [
                    {
                        "title": "Espace public numérique",
                        "enjeu": enjeu["code"],
                        "description": "Ateliers d'inclusion numérique pour tous les âges.",
                    }
                ],
            },
        ),
        201,
    )
    assert application["state"] == "draft"
    submitted = ok(stack.http("POST", f"/api/v1/applications/{application['id']}/submit", token=town))
    assert submitted["state"] == "submitted"

    to_agen = lambda message: "numerique@agen.example.fr" in message.get("To", "")  # noqa: E731
    stack.mail.wait_for(to_agen)  # the acknowledgement (submissions → notifications)

    # Two jurors from other departments review it (submissions → jury).
    for number, department in enumerate(("75", "69")):
        juror = ok(
            stack.http(
                "POST",
                "/api/v1/jurors",
                token=admin,
                json={
                    "name": f"Juré {number}",
                    "email": f"jure{number}@pipes.example.fr",
                    "department": department,
                },
            ),
            201,
        )
        task = poll(
            lambda token=juror["token"]: stack.http(
                "POST", "/api/v1/review-tasks/claim", token=token, json={"campaign_year": YEAR}
            ),
            lambda response: response.status_code == 200,
        ).json()
        assert task["application_id"] == application["id"]
        scores = {item["code"]: 3 for item in grid["enjeux"]}
        ok(
            stack.http(
                "POST",
                f"/api/v1/review-tasks/{task['id']}/review",
                token=juror["token"],
                json={"scores": scores, "arobases": 4, "mentions": [], "comment": "Démarche exemplaire."},
            )
        )

    # jury → awards: the consolidated proposal reaches the deliberation.
    rows = poll(
        lambda: ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/deliberation", token=admin)),
        lambda rows: rows and rows[0].get("proposal"),
    )
    assert rows[0]["proposal"]["arobases"] == 4
    poll(
        lambda: ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/release/preview", token=admin)),
        lambda preview: preview["ready"],
    )  # awards has the proposal too

    # Embargoed until the release, then public; awards → notifications: the result email.
    assert stack.http("GET", f"/api/v1/campaigns/{YEAR}/palmares").status_code == 409
    early = {
        "force": True,
        "reason": "Essai de bout en bout : publication avant la clôture.",
    }  # the campaign still accepts submissions
    assert stack.http("POST", f"/api/v1/campaigns/{YEAR}/release", token=admin, json=early).status_code == 202
    palmares = poll(
        lambda: stack.http("GET", f"/api/v1/campaigns/{YEAR}/palmares"),
        lambda response: response.status_code == 200,
    ).json()
    assert [
        (
            row["collectivite"]["name"] if isinstance(row["collectivite"], dict) else row["collectivite"],
            row["arobases"],
        )
        for row in palmares["labelled"]
    ] == [("Agen", 4)]
    results = stack.mail.wait_for(lambda m: to_agen(m) and "4 arobases" in m["Subject"])
    assert len(results) == 1
    assert "Lille" in results[0].get_body(("plain",)).get_content()  # the ceremony's place

    # Each service kept its own documents in its own database.
    assert stack.mongo("submissions")["applications"].count_documents({"_id": application["id"]}) == 1
    assert stack.mongo("jury").list_collection_names()
    assert stack.mongo("awards").list_collection_names()
    assert stack.mongo("notifications").list_collection_names()
    assert campaign["year"] == YEAR
