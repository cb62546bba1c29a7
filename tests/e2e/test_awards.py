"""Deliberation and ceremony end to end, over HTTP: applications travel
submissions → jury → awards; the organiser decides, previews, releases (twice);
the palmarès is embargoed for everyone else until then; the public pages, in
headless Chromium (Playwright), show their charts and pass axe-core."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.common.french import slug
from tests.support.api import ok, poll
from tests.support.browser import PHONE, assert_accessible, screenshot, tab_to

pytestmark = pytest.mark.e2e

YEAR = 2301  # this module's campaign years: 2301-2399
REGION = "La Réunion"


def iso(moment):
    return moment.isoformat()


def siren(prefix):
    """A valid SIREN (Luhn key) from 8 digits."""
    for key in range(10):
        digits = f"{prefix}{key}"
        total = sum(sum(divmod(int(d) * (2 if i % 2 else 1), 10)) for i, d in enumerate(digits))
        if total % 10 == 0:
            return digits
    raise AssertionError("no key")


@pytest.fixture(scope="module")
def campaign(stack):
    """A campaign of four applications reviewed by one juror each, ready to deliberate."""
    admin = stack.admin_token
    now = datetime.now(UTC)
    ok(
        stack.http(
            "POST",
            "/api/v1/campaigns",
            token=admin,
            json={
                "year": YEAR,
                "title": f"Label {YEAR}",
                "submissions_open_at": iso(now - timedelta(hours=1)),
                "submissions_close_at": iso(now + timedelta(hours=2)),
                "ceremony_at": iso(now + timedelta(days=30)),
                "ceremony_place": "Saint-Denis",
                "reviews_per_application": 1,
            },
        ),
        201,
    )
    grid = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=admin))["grid"]
    mentions = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=admin))["mentions"]
    towns = [
        {"insee_code": "97411", "name": "Saint-Denis", "kind": "commune", "population": 150000},
        {"insee_code": "97415", "name": "Saint-Paul", "kind": "commune", "population": 105000},
        {"insee_code": "97405", "name": "Entre-Deux", "kind": "commune", "population": 3000},
        {
            "insee_code": siren("20000000"),
            "name": "CIREST",
            "kind": "epci",
            "population": 120000,
            "member_communes": ["97407", "97409", "97418", "97421", "97406", "97410"],
        },
    ]
    applicants = []
    enjeu = grid["enjeux"][0]
    for town in towns:
        signup = ok(
            stack.http(
                "POST",
                "/api/v1/collectivites",
                token=stack.admin_token,  # trusted: confirmed at once
                json=dict(
                    town, region=REGION, department="974", email=f"numerique@{town['insee_code']}.example.fr"
                ),
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
                    "services": [s["code"] for s in enjeu["services"][:2]],
                    "initiatives": [
                        {
                            "title": "Médiation numérique",
                            "enjeu": enjeu["code"],
                            "description": "Ateliers pour tous les âges.",
                        }
                    ],
                },
            ),
            201,
        )
        ok(stack.http("POST", f"/api/v1/applications/{app['id']}/submit", token=signup["token"]))
        applicants.append(
            {
                "token": signup["token"],
                "id": signup["id"],
                "category": signup["category"],
                "application_id": app["id"],
                **town,
            }
        )
    juror = ok(
        stack.http(
            "POST",
            "/api/v1/jurors",
            token=admin,
            json={"name": "Juré Awards", "email": "jure@awards.example.fr", "department": "75"},
        ),
        201,
    )
    levels = {a["application_id"]: level for a, level in zip(applicants, (4, 2, 1, 3), strict=True)}
    for _ in applicants:
        task = poll(
            lambda: stack.http(
                "POST", "/api/v1/review-tasks/claim", token=juror["token"], json={"campaign_year": YEAR}
            ),
            lambda response: response.status_code == 200,
        ).json()
        ok(
            stack.http(
                "POST",
                f"/api/v1/review-tasks/{task['id']}/review",
                token=juror["token"],
                json={
                    "scores": {e["code"]: 3 for e in grid["enjeux"]},
                    "arobases": levels[task["application_id"]],
                    "mentions": [],
                    "comment": "Bien.",
                },
            )
        )
    # Every proposal reached awards (its preview, not only the jury's deliberation).
    poll(
        lambda: ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/release/preview", token=admin)),
        lambda preview: preview["ready"] and preview["labelled_count"] == 4,
    )
    return {"applicants": applicants, "juror": juror, "mentions": mentions}


def result_endpoints(year):
    return [
        f"/api/v1/campaigns/{year}/palmares",
        f"/api/v1/campaigns/{year}/palmares.csv",
        f"/palmares/{year}",
    ]


CHARTS = ("chart-arobases", "chart-category", "chart-region", "chart-progression")


def test_embargo_then_release_once_then_public(stack, campaign, page):
    admin = stack.admin_token
    applicants = campaign["applicants"]
    town, village = applicants[0], applicants[2]
    callers = {"anonymous": None, "collectivité": town["token"], "juré": campaign["juror"]["token"]}

    rows = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/deliberation", token=admin))
    assert len(rows) == 4 and all(row["proposal"] and row["decision"] is None for row in rows)
    assert stack.http("GET", f"/api/v1/campaigns/{YEAR}/deliberation", token=town["token"]).status_code == 403

    # Departing from the jury's proposal needs a reason.
    path = f"/api/v1/applications/{village['application_id']}/decision"
    refused = stack.http("PUT", path, token=admin, json={"arobases": 3, "mentions": []})
    assert refused.status_code == 422 and "reason" in refused.json()["error"]["fields"]
    mention = campaign["mentions"][0]
    decision = ok(
        stack.http(
            "PUT",
            path,
            token=admin,
            json={"arobases": 3, "mentions": [mention["code"]], "reason": "Projet d'inclusion remarquable."},
        )
    )
    assert decision["departs_from_proposal"] is True and decision["decided_by"] == "admin"
    assert (
        stack.http("PUT", path, token=town["token"], json={"arobases": 5, "mentions": []}).status_code == 403
    )

    # Before the release: 409 results_embargoed for everyone but organisers.
    for who, token in callers.items():
        for endpoint in result_endpoints(YEAR):
            response = stack.http("GET", endpoint, token=token)
            assert response.status_code == 409, (who, endpoint, response.status_code)
            if endpoint.startswith("/api"):
                assert response.json()["error"]["code"] == "results_embargoed", (who, endpoint)
        own = stack.http("GET", f"/api/v1/applications/{town['application_id']}/result", token=town["token"])
        assert own.status_code == 409 and own.json()["error"]["code"] == "results_embargoed"
    embargo = page.goto(f"{stack.base_url}/palmares/{YEAR}")
    assert embargo.status == 409 and page.get_by_role("heading", name=f"Palmarès {YEAR}").is_visible()
    embargo_headers = embargo.all_headers()
    assert_accessible(page, context="palmarès sous embargo (409)")
    draft = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/palmares", token=admin))
    assert draft["released_at"] is None and len(draft["labelled"]) == 4 and "chunks" not in draft
    # Written out for the export, read chunk by chunk: the same lines as the JSON's, kept by no cache.
    draft_csv = stack.http("GET", f"/api/v1/campaigns/{YEAR}/palmares.csv", token=admin)
    assert draft_csv.status_code == 200 and draft_csv.text.count("\r\n") == 5  # the header and 4 lines
    assert {row["collectivite"]["name"] for row in draft["labelled"]} == {
        line.split(",")[2] for line in draft_csv.text.splitlines()[1:]
    }
    assert draft_csv.headers["Cache-Control"] == "no-store"

    preview = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/release/preview", token=admin))
    counted = {key: preview.pop(key) for key in ("counted_at", "recounting")}
    assert preview == {
        "ready": True,
        "released": False,
        "labelled_count": 4,
        "by_arobases": {"1": 0, "2": 1, "3": 2, "4": 1, "5": 0},
        "undecided": [],
        "missing_email": [],
        "emails_to_send": 4,
    }
    assert counted["counted_at"] and counted["recounting"] is False  # a small campaign: counted at the read
    # Nothing about results has left awards: no award/result event recorded yet.
    awards_db = stack.mongo("awards")
    assert (
        awards_db["changes"].count_documents(
            {"events.name": "award_decided", "events.payload.campaign_year": YEAR}
        )
        == 0
    )

    early = stack.http("POST", f"/api/v1/campaigns/{YEAR}/release", token=admin, json={"force": True})
    assert early.status_code == 409 and early.json()["error"]["code"] == "submissions_open"  # no reason given
    first = stack.http(
        "POST",
        f"/api/v1/campaigns/{YEAR}/release",
        token=admin,
        json={"force": True, "reason": "Essai de bout en bout : publication avant la clôture."},
    )
    second = stack.http("POST", f"/api/v1/campaigns/{YEAR}/release", token=admin, json={"force": True})
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json() == second.json() and first.json()["labelled_count"] == 4

    # One set of events: the release record, and the four award_decided in a
    # batch to each release part their applications fall in.
    steps = list(awards_db["changes"].find({"collection": "steps", "doc_id": {"$regex": f"^release:{YEAR}"}}))
    events = {s["doc_id"]: len(s["events"]) for s in steps}
    assert events.pop(f"release:{YEAR}") == 1 and sum(events.values()) == 4
    assert all(re.fullmatch(rf"release:{YEAR}:part:\d+:batch:0", key) for key in events), events

    # After: the same endpoints answer everyone.
    for token in callers.values():
        palmares = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/palmares", token=token))
        assert palmares["released_at"] == first.json()["released_at"]
        assert palmares["stats"]["by_category"] == {"ville": 2, "village": 1, "territoire": 1}
        assert palmares["stats"]["territoires_communes"] == 6
        assert palmares["stats"]["by_region"] == {REGION: 4}
        levels = {row["collectivite"]["name"]: row["arobases"] for row in palmares["labelled"]}
        assert levels == {"Saint-Denis": 4, "Saint-Paul": 2, "Entre-Deux": 3, "CIREST": 3}
        csv_text = stack.http("GET", f"/api/v1/campaigns/{YEAR}/palmares.csv", token=token)
        assert csv_text.status_code == 200 and csv_text.text.count("\r\n") == 5
        assert "Entre-Deux" in csv_text.text and mention["label"] in csv_text.text
        assert stack.http("GET", f"/palmares/{YEAR}", token=token).status_code == 200
    # What every visitor gets goes gzipped to whoever accepts it, the same bytes otherwise.
    for public in (f"/palmares/{YEAR}", f"/api/v1/campaigns/{YEAR}/palmares"):
        zipped = stack.http("GET", public, headers={"Accept-Encoding": "gzip"})
        plain = stack.http("GET", public, headers={"Accept-Encoding": "identity"})
        encodings = (zipped.headers.get("Content-Encoding"), plain.headers.get("Content-Encoding"))
        assert encodings == ("gzip", None), public
        assert zipped.content == plain.content and "Accept-Encoding" in zipped.headers["Vary"]
        assert int(zipped.headers["Content-Length"]) < len(plain.content) / 2, public
        # Any cache may keep it a minute; a visitor holding it gets 304, and no body.
        assert zipped.headers["Cache-Control"] == "public, max-age=60", public
        held = {"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}
        again = stack.http("GET", public, headers=held)
        assert (again.status_code, again.content) == (304, b""), public
        assert zipped.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in zipped.headers["Content-Security-Policy"]
    # Before the release, nobody's cache kept the embargo; after, an organiser's
    # reads are theirs alone.
    assert embargo_headers["cache-control"] == "no-store"  # (Playwright names headers in lower case)
    organiser = stack.http("GET", f"/api/v1/campaigns/{YEAR}/palmares.csv", token=admin)
    assert organiser.headers["Cache-Control"] == "no-store" and "ETag" not in organiser.headers
    result = ok(
        stack.http("GET", f"/api/v1/applications/{village['application_id']}/result", token=village["token"])
    )
    assert result["arobases"] == 3 and result["mentions"][0]["code"] == mention["code"]
    late = stack.http("PUT", path, token=admin, json={"arobases": 5, "mentions": [], "reason": "trop tard"})
    assert late.status_code == 409

    # The public pages in headless Chromium: phone-sized, the year's four charts are there.
    page.set_viewport_size(PHONE)
    assert page.goto(f"{stack.base_url}/palmares/{YEAR}").status == 200
    assert page.get_by_role("heading", level=1).inner_text() == f"Palmarès {YEAR}"
    for chart in CHARTS:
        section = page.locator(f"#{chart}")
        assert section.locator("svg").count() == 1, chart
        assert section.locator("svg rect").count() > 0, chart
        assert section.locator("svg").bounding_box()["width"] <= PHONE["width"], chart
    assert page.locator("svg").count() == 4
    assert page.get_by_text("Entre-Deux", exact=False).count() == 0  # the lines are by region
    assert_accessible(page, context=f"palmarès {YEAR}, téléphone")
    assert screenshot(page, "palmares").stat().st_size > 10_000

    # Its region's page, reached by keyboard: the region's lines.
    tab_to(page, REGION)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/palmares/{YEAR}/{slug(REGION)}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Palmarès {YEAR} : {REGION}"
    row = page.locator("#c-97405")
    assert "Entre-Deux" in row.inner_text() and row.locator(".arobases").inner_text() == "@@@"
    assert page.locator("tbody tr").count() == 4
    assert_accessible(page, context=f"palmarès {YEAR}, {REGION}, téléphone")
    screenshot(page, "palmares_region")
    missing = page.goto(f"{stack.base_url}/palmares/{YEAR}/atlantide")
    assert missing.status == 404 and "Aucune région ne porte ce nom" in page.content()
    assert_accessible(page, context="palmarès : région inconnue")
    # A region none of whose collectivités is labelled (the directory of initiatives links to it too).
    assert page.goto(f"{stack.base_url}/palmares/{YEAR}/bretagne").status == 200
    assert page.get_by_role("heading", level=1).inner_text() == f"Palmarès {YEAR} : Bretagne"
    assert "Aucune collectivité de la région n'est labellisée" in page.content()
    assert_accessible(page, context="palmarès : région sans lauréat")

    # The list of palmarès: accessible, and the year is reached and opened by keyboard alone.
    assert page.goto(f"{stack.base_url}/palmares").status == 200
    assert_accessible(page, context="liste des palmarès")
    tab_to(page, re.compile(rf"^Palmarès {YEAR}\b"))
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/palmares/{YEAR}")


def test_release_refused_while_undecided_unless_forced(stack):
    admin = stack.admin_token
    year = YEAR + 1
    now = datetime.now(UTC)
    closes = now + timedelta(seconds=20)  # time to submit one application
    ok(
        stack.http(
            "POST",
            "/api/v1/campaigns",
            token=admin,
            json={
                "year": year,
                "title": f"Label {year}",
                "submissions_open_at": iso(now - timedelta(hours=1)),
                "submissions_close_at": iso(closes),
                "ceremony_at": iso(now + timedelta(days=30)),
                "ceremony_place": "Lille",
                "reviews_per_application": 1,
            },
        ),
        201,
    )
    grid = ok(stack.http("GET", f"/api/v1/campaigns/{year}", token=admin))["grid"]
    signup = ok(
        stack.http(
            "POST",
            "/api/v1/collectivites",
            token=stack.admin_token,  # trusted: confirmed at once
            json={
                "insee_code": "97613",
                "name": "Sada",
                "kind": "commune",
                "population": 11000,
                "region": "Mayotte",
                "department": "976",
                "email": "numerique@sada.example.fr",
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
                "campaign_year": year,
                "services": [],
                "initiatives": [
                    {
                        "title": "Wifi public",
                        "enjeu": grid["enjeux"][0]["code"],
                        "description": "Place centrale.",
                    }
                ],
            },
        ),
        201,
    )
    ok(stack.http("POST", f"/api/v1/applications/{app['id']}/submit", token=signup["token"]))
    preview = poll(
        lambda: ok(stack.http("GET", f"/api/v1/campaigns/{year}/release/preview", token=admin)),
        lambda p: p["undecided"] == [app["id"]],
    )
    assert preview["ready"] is False

    # Refused at once while the submissions are open (cheap to check); then by
    # the awards timer's draft, the gateway waiting for it.
    early = stack.http("POST", f"/api/v1/campaigns/{year}/release", token=admin)
    assert early.status_code == 409 and early.json()["error"]["code"] == "submissions_open"
    time.sleep(max((closes - datetime.now(UTC)).total_seconds() + 1, 0))
    refused = stack.http("POST", f"/api/v1/campaigns/{year}/release", token=admin)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "applications_undecided"
    state = ok(stack.http("GET", f"/api/v1/campaigns/{year}/release", token=admin))
    assert (state["state"], state["refusal"]["code"]) == ("refused", "applications_undecided")
    assert stack.http("GET", f"/api/v1/campaigns/{year}/palmares").status_code == 409
    forced = ok(
        stack.http("POST", f"/api/v1/campaigns/{year}/release", token=admin, json={"force": True}), 202
    )
    assert forced["state"] == "released"  # a small campaign: public when the answer comes
    assert forced["pending"] == [app["id"]] and forced["labelled_count"] == 0
    palmares = ok(stack.http("GET", f"/api/v1/campaigns/{year}/palmares"))
    assert palmares["labelled"] == [] and palmares["pending"] == [app["id"]]
