"""Baromètre, Atlaas and pré-diagnostic end to end (issue 16): a campaign
generated with the seeds' proportions goes through the real services; nothing
shows before the release; after it the shares are found back, the directory
holds only the consented initiatives of submitted applications, the pages pass
axe-core in Chromium, and `labelctl prediagnostic` answers."""

import pytest

from tests.e2e.test_cli import labelctl
from tests.e2e.test_web_spaces import follow_link, request_link
from tests.support import barometre_data
from tests.support.api import ok, open_campaign, poll
from tests.support.browser import PHONE, assert_accessible, screenshot

pytestmark = pytest.mark.e2e

YEAR = 2501  # this module's campaign years: 2501-2599; INSEE codes <department>9xx
GENERATED = barometre_data.applications(40, initiatives_per_app=10, first_number=900)
DRAFTS = barometre_data.applications(5, initiatives_per_app=1, first_number=950, consent_every=1)


def every_page(stack, query, limit=50):
    items, cursor = [], ""
    while True:
        page = ok(stack.http("GET", f"/api/v1/initiatives?{query}&limit={limit}&cursor={cursor}"))
        items += page["items"]
        if not page["next_cursor"]:
            return items
        cursor = page["next_cursor"]


@pytest.fixture(scope="module")
def campaign(stack):
    """40 submitted applications (400 initiatives in the seeds' shares, one in
    three published) and 5 drafts whose initiatives, all published, are on sport."""
    admin = stack.admin_token
    open_campaign(stack, YEAR, "Brest", reviews_per_application=1)
    tokens = {}
    for generated, submit in [(GENERATED, True), (DRAFTS, False)]:
        for app in generated:
            signup = ok(
                stack.http("POST", "/api/v1/collectivites", json=app["collectivite"], token=admin), 201
            )
            tokens[signup["id"]] = signup["token"]
            initiatives = app["initiatives"]
            if not submit:
                initiatives = [dict(i, enjeu="sport", title="Brouillon sportif") for i in initiatives]
            created = ok(
                stack.http(
                    "POST",
                    "/api/v1/applications",
                    token=signup["token"],
                    json={"campaign_year": YEAR, "services": app["services"], "initiatives": initiatives},
                ),
                201,
            )
            if submit:
                ok(stack.http("POST", f"/api/v1/applications/{created['id']}/submit", token=signup["token"]))
    return tokens


def test_nothing_before_the_release_then_the_seeds_shares(stack, campaign, page):
    embargoed = stack.http("GET", f"/api/v1/barometre/{YEAR}")
    assert embargoed.status_code == 409 and embargoed.json()["error"]["code"] == "results_embargoed"
    assert stack.http("GET", f"/api/v1/barometre/{YEAR}", token=stack.admin_token).status_code == 409
    assert YEAR not in ok(stack.http("GET", "/api/v1/barometre"))["years"]
    assert ok(stack.http("GET", f"/api/v1/initiatives?year={YEAR}"))["items"] == []
    assert stack.http("GET", f"/barometre/{YEAR}").status_code == 409
    page.goto(f"{stack.base_url}/barometre/{YEAR}")
    assert "sera publié avec le palmarès" in page.content()
    assert_accessible(page, "baromètre sous embargo")

    ok(
        stack.http(
            "POST",
            f"/api/v1/campaigns/{YEAR}/release",
            token=stack.admin_token,
            json={"force": True, "reason": "Essai de bout en bout du baromètre."},
        ),
        202,
    )
    view = poll(lambda: stack.http("GET", f"/api/v1/barometre/{YEAR}"), lambda r: r.status_code == 200).json()
    assert view["applications"] == 40 and view["initiatives"] == 400  # the drafts left out
    shares = {row["code"]: row["share"] for row in view["enjeux"]}
    assert shares["acces"] > 25 and shares["acces"] == 26.0
    assert (shares["communication"], shares["culture"], shares["education"]) == (18.5, 15.0, 12.0)
    assert shares["sport"] == 1.0 and shares["logement"] == 1.0 and shares["environnement"] == 2.0
    # Fewer than 5 collectivités: the aggregate is withheld (no territoire applied).
    territoire = next(row for row in view["categories"] if row["code"] == "territoire")
    assert territoire["withheld"] and territoire["collectivites"] is None
    assert "groups" not in view
    assert YEAR in ok(stack.http("GET", "/api/v1/barometre"))["years"]

    csv_text = stack.http("GET", f"/api/v1/barometre/{YEAR}.csv").text
    assert "enjeu_part_initiatives,communication,Communication et information,74,18.5," in csv_text

    page.goto(f"{stack.base_url}/barometre/{YEAR}")
    assert page.get_by_role("heading", name=f"Baromètre {YEAR}").is_visible()
    row = page.get_by_role("row", name="Communication et information").first
    assert "18,5 %" in row.inner_text()
    assert page.locator("svg[role=img] > title").first.text_content().startswith("Part des initiatives")
    assert_accessible(page, "baromètre")
    screenshot(page, "barometre", size=PHONE)
    page.goto(f"{stack.base_url}/barometre")
    assert_accessible(page, "liste des baromètres")


def test_the_directory_holds_only_consented_initiatives_of_submitted_applications(stack, campaign, page):
    poll(lambda: stack.http("GET", f"/api/v1/barometre/{YEAR}"), lambda r: r.status_code == 200)
    items = every_page(stack, f"year={YEAR}", limit=50)
    assert len(items) == sum(1 for n in range(400) if n % 3 == 0) == len({i["id"] for i in items})
    assert not [i for i in items if i["title"].startswith(("Initiative réservée", "Brouillon"))]
    assert ok(stack.http("GET", "/api/v1/initiatives?q=zorglub"))["items"] == []
    assert ok(stack.http("GET", "/api/v1/initiatives?q=confidentiel"))["items"] == []
    found = every_page(stack, f"year={YEAR}&q=m%C3%A9diath%C3%A8ques%20ecoles", limit=100)
    assert [i["id"] for i in found] == [i["id"] for i in items]  # stems and accents
    bretagne = every_page(stack, f"year={YEAR}&region=Bretagne&enjeu=acces")
    assert bretagne and all(i["region"] == "Bretagne" and i["enjeu"] == "acces" for i in bretagne)
    refused = stack.http("GET", "/api/v1/initiatives?limit=1000&band=geante")
    assert refused.status_code == 422
    assert set(refused.json()["error"]["fields"]) == {"limit", "band"}

    page.goto(f"{stack.base_url}/initiatives?q=mediatheque&year={YEAR}&region=Bretagne")
    first = next(i for i in items if i["region"] == "Bretagne")  # the page's first, newest first
    assert page.get_by_role("heading", name="Annuaire des initiatives").is_visible()
    link = page.get_by_role("link", name=f"{first['collectivite']['name']} au palmarès {YEAR}").first
    assert link.get_attribute("href") == f"/palmares/{YEAR}/bretagne#c-{first['collectivite']['insee_code']}"
    assert_accessible(page, "annuaire des initiatives")
    screenshot(page, "initiatives", size=PHONE)
    page.goto(f"{stack.base_url}/initiatives?limit=1000")
    assert "La recherche n'a pas pu être faite" in page.content()
    assert_accessible(page, "annuaire : recherche refusée")


def test_the_prediagnostic_by_api_page_and_labelctl(stack, campaign, page):
    poll(lambda: stack.http("GET", f"/api/v1/barometre/{YEAR}"), lambda r: r.status_code == 200)
    code = GENERATED[0]["collectivite"]["insee_code"]
    result = ok(stack.http("GET", f"/api/v1/collectivites/{code}/prediagnostic", token=campaign[code]))
    assert not result["withheld"] and result["collectivites"] >= 5 and result["reference_year"] == YEAR
    assert all(not s["offered"] for s in result["suggestions"])
    other = GENERATED[1]["collectivite"]["insee_code"]
    assert (
        stack.http("GET", f"/api/v1/collectivites/{other}/prediagnostic", token=campaign[code]).status_code
        == 404
    )

    done = labelctl(stack, "prediagnostic", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Candidature {YEAR} comparée aux {result['collectivites']} collectivités")

    email = GENERATED[0]["collectivite"]["email"]
    follow_link(page, request_link(stack, page, email), "collectivité")
    page.goto(f"{stack.base_url}/collectivite/prediagnostic")
    assert page.get_by_role("heading", name="Pré-diagnostic").is_visible()
    assert page.get_by_role("heading", name="Par enjeu").is_visible()
    assert_accessible(page, "pré-diagnostic")
    screenshot(page, "prediagnostic", size=PHONE)
