"""Submissions over the running stack (HTTP through the gateway): campaigns,
collectivité sign-up, applications, ownership, the deadline, the village
threshold, validation, and the crash between the ledger's decision and the
publish. Campaign years 2110-2119; INSEE codes 2A9xx / 2B9xx (Corsica)."""

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from services.common import tokens
from services.common.clock import utcnow
from services.common.ledger import Ledger, find_step
from tests.support.api import poll

pytestmark = pytest.mark.e2e

SERVICE = "acces-wifi-public-gratuit"


def now():
    return datetime.now(UTC)


def ok(response, status=200):
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if response.content else None


def error(response, status):
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()["error"]


def siren(prefix):
    """A SIREN with a valid Luhn key: 8 digits + check digit."""
    for last in "0123456789":
        candidate = prefix + last
        total = sum(
            (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
            for i, d in enumerate(int(c) for c in reversed(candidate))
        )
        if total % 10 == 0:
            return candidate
    raise AssertionError


def campaign_body(year, close_in=timedelta(days=30), **over):
    moment = now()
    body = {
        "year": year,
        "title": f"Label Territoires, Villes et Villages Internet {year}",
        "submissions_open_at": (moment - timedelta(hours=1)).isoformat(),
        "submissions_close_at": (moment + close_in).isoformat(),
        "ceremony_at": (moment + timedelta(days=60)).isoformat(),
        "ceremony_place": "Lille",
    }
    body.update(over)
    return body


def commune(insee, population=12000, **over):
    body = {
        "insee_code": insee,
        "name": f"Commune {insee}",
        "kind": "commune",
        "population": population,
        "region": "Corse",
        "department": insee[:2],
        "email": f"mairie-{insee.lower()}@example.fr",
    }
    body.update(over)
    return body


def create_campaign(stack, year, **kw):
    return ok(
        stack.http("POST", "/api/v1/campaigns", token=stack.admin_token, json=campaign_body(year, **kw)), 201
    )


def sign_up(stack, body):
    # As an organiser: trusted, confirmed at once (a public sign-up must confirm its address first).
    return ok(stack.http("POST", "/api/v1/collectivites", token=stack.admin_token, json=body), 201)


def apply(stack, token, year, **extra):
    body = {
        "campaign_year": year,
        "services": [SERVICE],
        "initiatives": [
            {"title": "Wifi au marché", "enjeu": "acces", "description": "Bornes wifi sur la place."}
        ],
    }
    body.update(extra)
    return ok(stack.http("POST", "/api/v1/applications", token=token, json=body), 201)


def test_campaigns_with_default_or_own_grid(stack):
    admin = stack.admin_token
    created = create_campaign(stack, 2110)
    assert created["state"] == "open" and created["village_max_population"] == 3500
    assert created["reviews_per_application"] == 2
    assert len(created["grid"]["enjeux"]) == 16
    assert sum(len(e["services"]) for e in created["grid"]["enjeux"]) == 138
    assert len(created["mentions"]) == 7
    assert (
        error(stack.http("POST", "/api/v1/campaigns", token=admin, json=campaign_body(2110)), 409)["code"]
        == "campaign_exists"
    )

    own = {
        "enjeux": [
            {"code": "fibre", "label": "Fibre", "services": [{"code": "ftth", "label": "Fibre à l'abonné"}]}
        ]
    }
    create_campaign(
        stack, 2111, grid=own, mentions=[{"code": "ruralite", "label": "Ruralité"}], reviews_per_application=3
    )
    signed = sign_up(stack, commune("2A901"))
    fetched = ok(stack.http("GET", "/api/v1/campaigns/2111", token=signed["token"]))  # any role reads it
    assert fetched["grid"] == own and fetched["mentions"] == [{"code": "ruralite", "label": "Ruralité"}]
    years = [c["year"] for c in ok(stack.http("GET", "/api/v1/campaigns", token=admin))]
    assert years == sorted(years, reverse=True) and {2110, 2111} <= set(years)
    assert (
        error(stack.http("GET", "/api/v1/campaigns/2119", token=admin), 404)["code"] == "campaign_not_found"
    )
    assert (
        stack.http("POST", "/api/v1/campaigns", token=signed["token"], json=campaign_body(2112)).status_code
        == 403
    )
    assert stack.http("POST", "/api/v1/campaigns", json=campaign_body(2112)).status_code == 401
    # The campaign's own grid is what applications are checked against.
    app = ok(
        stack.http(
            "POST",
            "/api/v1/applications",
            token=signed["token"],
            json={"campaign_year": 2111, "services": ["ftth"]},
        ),
        201,
    )
    assert app["services"] == ["ftth"]
    bad = error(
        stack.http(
            "POST",
            "/api/v1/applications",
            token=signed["token"],
            json={"campaign_year": 2110, "services": ["ftth"]},
        ),
        422,
    )
    assert list(bad["fields"]) == ["services.0"]


def test_village_threshold_3500_and_3501(stack):
    create_campaign(stack, 2113)  # default threshold 3500
    create_campaign(stack, 2114, village_max_population=5000)
    latest = ok(stack.http("GET", "/api/v1/campaigns", token=stack.admin_token))[0]
    at_sign_up = lambda population: "village" if population <= latest["village_max_population"] else "ville"  # noqa: E731

    village = sign_up(stack, commune("2B901", 3500))
    ville = sign_up(stack, commune("2B902", 3501))
    territoire = sign_up(
        stack,
        dict(
            commune("x", 50000),
            insee_code=siren("24200090"),
            kind="epci",
            department="2B",
            member_communes=["2B901", "2B902"],
        ),
    )
    assert village["category"] == at_sign_up(3500) and ville["category"] == at_sign_up(3501)
    assert territoire["category"] == "territoire"

    # Per campaign: its own threshold decides.
    assert apply(stack, village["token"], 2113)["collectivite"]["category"] == "village"
    assert apply(stack, ville["token"], 2113)["collectivite"]["category"] == "ville"
    assert apply(stack, ville["token"], 2114)["collectivite"]["category"] == "village"
    assert apply(stack, territoire["token"], 2113)["collectivite"]["category"] == "territoire"
    assert (
        error(stack.http("POST", "/api/v1/collectivites", json=commune("2B901", 3500)), 409)["code"]
        == "already_registered"
    )


def test_two_collectivites_cannot_touch_each_others_applications(stack):
    create_campaign(stack, 2115)
    a = sign_up(stack, commune("2A902"))
    b = sign_up(stack, commune("2A903"))
    app_a = apply(stack, a["token"], 2115)
    app_b = apply(stack, b["token"], 2115)
    path = f"/api/v1/applications/{app_a['id']}"

    # B gets the same answer as for an application that does not exist.
    assert error(stack.http("GET", path, token=b["token"]), 404)["code"] == "application_not_found"
    assert stack.http("GET", "/api/v1/applications/2115:2A999", token=b["token"]).status_code == 404
    assert stack.http("PATCH", path, token=b["token"], json={"services": []}).status_code == 404
    assert stack.http("POST", path + "/submit", token=b["token"]).status_code == 404
    assert stack.http("POST", path + "/withdraw", token=b["token"]).status_code == 404
    assert stack.http("GET", f"/api/v1/collectivites/{a['id']}", token=b["token"]).status_code == 404
    juror = tokens.issue(stack.env["LABEL_SECRET_KEY"], "juror", "j-2115", utcnow(), timedelta(days=1))
    assert stack.http("GET", path, token=juror).status_code == 403
    assert stack.http("GET", path).status_code == 401
    assert stack.http("GET", path, token="forged-token").status_code == 401

    # A's application is untouched; A and the organisers read it; organisers do not edit it.
    mine = ok(stack.http("GET", path, token=a["token"]))
    assert mine["state"] == "draft" and mine["services"] == [SERVICE]
    assert ok(stack.http("GET", path, token=stack.admin_token))["collectivite_id"] == a["id"]
    assert stack.http("PATCH", path, token=stack.admin_token, json={"services": []}).status_code == 403
    assert ok(stack.http("GET", f"/api/v1/applications/{app_b['id']}", token=b["token"]))["state"] == "draft"
    listed = ok(stack.http("GET", "/api/v1/campaigns/2115/applications", token=stack.admin_token))
    assert {app_a["id"], app_b["id"]} <= {item["id"] for item in listed}
    assert [
        x["id"] for x in ok(stack.http("GET", "/api/v1/campaigns/2115/applications", token=b["token"]))
    ] == [app_b["id"]]


def test_draft_edit_submit_withdraw(stack):
    create_campaign(stack, 2116)
    a = sign_up(stack, commune("2A904"))
    app = apply(stack, a["token"], 2116)
    path = f"/api/v1/applications/{app['id']}"
    assert (
        error(
            stack.http("POST", "/api/v1/applications", token=a["token"], json={"campaign_year": 2116}), 409
        )["code"]
        == "application_exists"
    )
    patched = ok(
        stack.http(
            "PATCH",
            path,
            token=a["token"],
            json={"services": [SERVICE, "culture-mediatheque-numerique"], "previous_arobases": 3},
        )
    )
    assert (
        patched["services"] == [SERVICE, "culture-mediatheque-numerique"]
        and patched["previous_arobases"] == 3
    )
    assert ok(stack.http("POST", path + "/submit", token=a["token"]))["state"] == "submitted"
    assert error(stack.http("POST", path + "/submit", token=a["token"]), 409)["code"] == "not_draft"
    assert (
        error(stack.http("PATCH", path, token=a["token"], json={"services": []}), 409)["code"] == "not_draft"
    )
    assert ok(stack.http("POST", path + "/withdraw", token=a["token"]))["state"] == "withdrawn"
    assert error(stack.http("POST", path + "/withdraw", token=a["token"]), 409)["code"] == "already_withdrawn"


def test_submission_one_second_after_the_deadline(stack):
    created = create_campaign(stack, 2117, close_in=timedelta(seconds=5))
    close = datetime.fromisoformat(created["submissions_close_at"])
    early = sign_up(stack, commune("2A905"))
    late = sign_up(stack, commune("2A906"))
    app_early = apply(stack, early["token"], 2117)
    app_late = apply(stack, late["token"], 2117)
    assert (
        ok(stack.http("POST", f"/api/v1/applications/{app_early['id']}/submit", token=early["token"]))[
            "state"
        ]
        == "submitted"
    )

    time.sleep(max(0.0, (close + timedelta(seconds=1) - now()).total_seconds()))  # a clock, not a condition
    refused = error(
        stack.http("POST", f"/api/v1/applications/{app_late['id']}/submit", token=late["token"]), 409
    )
    assert refused["code"] == "deadline_passed"
    assert (
        ok(stack.http("GET", f"/api/v1/applications/{app_late['id']}", token=late["token"]))["state"]
        == "draft"
    )
    assert ok(stack.http("GET", "/api/v1/campaigns/2117", token=stack.admin_token))["state"] == "closed"
    assert (
        error(
            stack.http(
                "PATCH", f"/api/v1/applications/{app_late['id']}", token=late["token"], json={"services": []}
            ),
            409,
        )["code"]
        == "deadline_passed"
    )
    # submissions_closed is recorded once by the timer, counting the one submission.
    db = stack.mongo("submissions")
    closed = poll(lambda: find_step(db, "closed:2117"), lambda doc: doc is not None, timeout=20)
    assert closed["events"][0]["payload"]["submitted_count"] == 1


def test_validation_names_the_fields_and_stores_nothing(stack):
    admin = stack.admin_token
    create_campaign(stack, 2118)
    collectivites = stack.mongo("submissions")["collectivites"]
    cases = [
        (commune("2A9X7"), {"insee_code"}),
        (commune("2A907", department="2B"), {"insee_code"}),
        (
            dict(
                commune("x"), kind="epci", insee_code="242000901", department="2A", member_communes=["2A907"]
            ),
            {"insee_code"},
        ),  # bad SIREN key
        (commune("2A907", email="mairie@@example"), {"email"}),
        (commune("2A907", name="n" * 151), {"name"}),
        (commune("2A907", region="Lorraine"), {"region"}),
        (commune("2A907", mayor="X"), {"mayor"}),
        (commune("2A907", **{"$where": "sleep(1)"}), {"$where"}),
        (commune("2A907", **{"a.b": 1}), {"a.b"}),
        (commune("2A907", population="3500"), {"population"}),
    ]
    for body, expected in cases:
        err = error(stack.http("POST", "/api/v1/collectivites", json=body), 422)
        assert err["code"] == "validation_failed" and expected <= set(err["fields"]), (body, err)
    assert collectivites.find_one({"_id": "2A907"}) is None
    assert (
        stack.http(
            "POST", "/api/v1/collectivites", data=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )

    a = sign_up(stack, commune("2A907"))  # the same code was never stored
    app = apply(stack, a["token"], 2118)
    before = stack.mongo("submissions")["applications"].find_one({"_id": app["id"]})
    long_text = "x" * 5001
    bad_bodies = [
        ({"services": ["inconnu", SERVICE]}, {"services.0"}),
        ({"initiatives": [{"title": "t", "enjeu": "nope", "description": "d"}]}, {"initiatives.0.enjeu"}),
        (
            {"initiatives": [{"title": "t" * 201, "enjeu": "acces", "description": long_text}]},
            {"initiatives.0.title", "initiatives.0.description"},
        ),
        (
            {
                "initiatives": [
                    {"title": "t", "enjeu": "acces", "description": "d", "url": "javascript:alert(1)"}
                ]
            },
            {"initiatives.0.url"},
        ),
        ({"state": "submitted"}, {"state"}),
        ({"services": [SERVICE], "$set": {"state": "submitted"}}, {"$set"}),
        (
            {"initiatives": [{"title": "t", "enjeu": "acces", "description": "d", "x.y": 1}]},
            {"initiatives.0.x.y"},
        ),
    ]
    path = f"/api/v1/applications/{app['id']}"
    for body, expected in bad_bodies:
        err = error(stack.http("PATCH", path, token=a["token"], json=body), 422)
        assert expected <= set(err["fields"]), (body, err)
    after = stack.mongo("submissions")["applications"].find_one({"_id": app["id"]})
    assert after == before

    other = sign_up(stack, commune("2A908"))
    for body, expected in [
        ({"campaign_year": 2118, "services": ["x"]}, {"services.0"}),
        ({"campaign_year": 2118, "colour": "blue"}, {"colour"}),
        ({"campaign_year": 2199}, {"campaign_year"}),
    ]:
        assert expected <= set(
            error(stack.http("POST", "/api/v1/applications", token=other["token"], json=body), 422)["fields"]
        )
    assert stack.mongo("submissions")["applications"].find_one({"_id": "2118:2A908"}) is None

    bad_grid = {"enjeux": [{"code": "A.B", "label": "x", "services": []}]}
    err = error(
        stack.http(
            "POST",
            "/api/v1/campaigns",
            token=admin,
            json=dict(campaign_body(2119, grid=bad_grid), year="2119"),
        ),
        422,
    )
    assert {"year", "grid.enjeux.0.code", "grid.enjeux.0.services"} <= set(err["fields"])
    assert stack.http("GET", "/api/v1/campaigns/2119", token=admin).status_code == 404


def test_crash_between_decision_and_publish_delivers_once(stack):
    """The submissions process dies right after the ledger decided the
    submission; once restarted, the event reaches its consumers exactly once."""
    create_campaign(stack, 2112)
    a = sign_up(stack, commune("2A909"))
    app = apply(stack, a["token"], 2112)
    path = f"/api/v1/applications/{app['id']}"

    stack.restart("submissions", env={"FAULT_CRASH_AFTER_DECIDE": "application_submitted"})
    try:
        response = stack.http("POST", path + "/submit", token=a["token"], timeout=5)
        assert response.status_code >= 500, response.text
    except requests.RequestException:
        pass  # the process died under the request
    stack.restart("submissions")

    poll(
        lambda: stack.http("GET", path, token=a["token"]).json(),
        lambda body: body.get("state") == "submitted",
    )
    changes = stack.mongo("submissions")["changes"]
    ledger = Ledger(stack.mongo("submissions"))
    submitted = poll(
        lambda: list(changes.find({"doc_id": app["id"], "events.name": "application_submitted"})),
        lambda docs: len(docs) == 1 and not ledger.is_pending(docs[0]["_id"]),
    )
    event_id = submitted[0]["events"][0]["payload"]["event_id"]
    # Consumers: the jury handled it once (and made its tasks); one acknowledgement email.
    handled = stack.mongo("jury")["handled_events"]
    poll(lambda: handled.count_documents({"_id": f"{event_id}:on_application_submitted"}), lambda n: n == 1)
    assert stack.mongo("jury")["tasks"].count_documents({"application_id": app["id"]}) == 2
    # One acknowledgement in the notifications outbox (whatever its SMTP fate), at most one captured.
    recipient = "mairie-2a909@example.fr"

    def acknowledgements():
        found = []
        for state in ("queued", "sent", "failed"):
            found += [
                e
                for e in ok(stack.http("GET", f"/api/v1/outbox?state={state}", token=stack.admin_token))
                if e["recipient"] == recipient and e["template"] == "application_acknowledged"
            ]
        return found

    poll(acknowledgements, lambda found: len(found) >= 1)
    time.sleep(2)  # beyond a sweep round: a duplicate would have arrived by now
    assert len(acknowledgements()) == 1
    assert (
        stack.mail.count(
            lambda m: recipient in str(m.get("To", "")).lower() and "reçue" in str(m.get("Subject", ""))
        )
        <= 1
    )
    assert len(list(changes.find({"doc_id": app["id"], "events.name": "application_submitted"}))) == 1
