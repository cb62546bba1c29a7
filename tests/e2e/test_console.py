"""The organisers' console, played in Chromium against the running stack: an
organiser signs in from the invitation's link, invites a second organiser and
a juror, creates a campaign from the previous year's grid, follows the
reviews (two reviewers disagree on Biscarrosse, a third juror's extra review
settles it), reads the jury's disagreements, overrides one proposal with a
reason, previews, releases, watches
the result emails go out and resends the one that bounced. axe-core on every
console page; every action checked through the API afterwards, with the name
recorded on the decision and the release. Campaign years 2990-2991;
department 40."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.support import web
from tests.support.api import ok, poll
from tests.support.browser import assert_accessible, screenshot
from tests.support.mail import Mailbox

pytestmark = pytest.mark.e2e

PREVIOUS, YEAR = 2990, 2991  # above every other module's years: the console proposes the latest + 1
ORGANISER = {"name": "Florence Durand", "email": "florence.durand@villes-internet.example.fr"}
SECOND = {"name": "Karim Benali", "email": "karim.benali@villes-internet.example.fr"}
GRID = {
    "enjeux": [
        {
            "code": "acces",
            "label": "Accès au numérique",
            "services": [
                {"code": "wifi", "label": "Wi-Fi public"},
                {"code": "epn", "label": "Espace public numérique"},
            ],
        },
        {
            "code": "citoyennete",
            "label": "Citoyenneté",
            "services": [{"code": "video", "label": "Conseil en vidéo"}],
        },
    ]
}
MENTIONS = [{"code": "educ", "label": "Numérique éducatif"}, {"code": "gouv", "label": "Gouvernement ouvert"}]
TOWNS = [
    ("40088", "Dax", "mairie@dax.example.fr"),
    ("40192", "Mont-de-Marsan", "rebond@montdemarsan.example.fr"),  # bounces once (tests/support/stack.py)
    ("40046", "Biscarrosse", "mairie@biscarrosse.example.fr"),
]
PARIS = ZoneInfo("Europe/Paris")
AGREED = {"scores": {"acces": 3, "citoyennete": 2}, "arobases": 3, "mentions": ["educ"], "comment": "Solide."}
# Biscarrosse's two reviewers are two arobases apart (services/jury/consolidation.py's
# DISAGREEMENT_GAP): an extra review task opens, a third juror gives 2 @, the median.
DISPUTED = "Biscarrosse"
LOW = {
    "scores": {"acces": 1, "citoyennete": 1},
    "arobases": 1,
    "mentions": ["educ"],
    "comment": "Peu d'actions.",
}
HIGH = {
    "scores": {"acces": 4, "citoyennete": 2},
    "arobases": 3,
    "mentions": ["educ"],
    "comment": "Très actif.",
}
THIRD = {
    "scores": {"acces": 2, "citoyennete": 2},
    "arobases": 2,
    "mentions": ["educ"],
    "comment": "Entre les deux.",
}


def checked(page, name):
    assert_accessible(page, name)
    return page


def paris(moment):
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture(scope="module")
def previous_campaign(stack):
    now = datetime.now(PARIS)
    body = {
        "year": PREVIOUS,
        "title": f"Label {PREVIOUS}",
        "submissions_open_at": (now - timedelta(days=30)).isoformat(),
        "submissions_close_at": (now - timedelta(days=20)).isoformat(),
        "ceremony_at": (now - timedelta(days=10)).isoformat(),
        "ceremony_place": "Montrouge",
        "grid": GRID,
        "mentions": MENTIONS,
    }
    return ok(stack.http("POST", "/api/v1/campaigns", token=stack.admin_token, json=body), 201)


def test_an_organiser_runs_the_year_from_the_console(stack, previous_campaign, browser):
    admin = stack.admin_token
    ok(stack.http("POST", "/api/v1/organisers", token=admin, json=ORGANISER), 201)
    [invitation] = stack.mail.wait_for(Mailbox.to(ORGANISER["email"]))
    assert "invité" in str(invitation["Subject"])
    page = browser.new_context(locale="fr-FR").new_page()
    page.goto(web.sign_in_link(invitation))
    page.get_by_role("button", name="Se connecter").click()
    assert page.url.split("?")[0].endswith("/organisation")
    checked(page, "console")

    # A second organiser, invited by the first.
    page.get_by_role("link", name="Organisateurs").click()
    page.get_by_label("Nom de l'organisateur").fill(SECOND["name"])
    page.get_by_label("Adresse électronique de l'organisateur").fill(SECOND["email"])
    page.get_by_role("button", name="Inviter l'organisateur").click()
    assert "L'invitation est envoyée" in page.get_by_role("status").inner_text()
    checked(page, "organisateurs")
    stack.mail.wait_for(Mailbox.to(SECOND["email"]))
    organisers = {o["email"]: o for o in ok(stack.http("GET", "/api/v1/organisers", token=admin))}
    assert organisers[SECOND["email"]]["invited_by"] == ORGANISER["email"]

    # A juror, invited from the console (welcome email), and a bad department named by its field.
    page.get_by_role("link", name="Jurés").click()
    page.get_by_label("Nom du juré").fill("Anne Lacoste")
    page.get_by_label("Adresse électronique du juré").fill("anne.lacoste@jury.example.fr")
    page.get_by_label("Département du juré").fill("Paris")
    page.get_by_role("button", name="Inviter le juré").click()
    assert page.locator("#f-department").get_attribute("aria-invalid") == "true"
    checked(page, "jurés (erreur)")
    page.get_by_label("Département du juré").fill("64")
    page.get_by_role("button", name="Inviter le juré").click()
    assert "Le juré est inscrit" in page.get_by_role("status").inner_text()
    checked(page, "jurés")
    jurors = {j["email"]: j for j in ok(stack.http("GET", "/api/v1/jurors", token=admin))}
    assert jurors["anne.lacoste@jury.example.fr"]["department"] == "64"
    stack.mail.wait_for(Mailbox.to("anne.lacoste@jury.example.fr"))

    # A campaign from the previous year's grid and mentions, the changes shown first.
    page.get_by_role("link", name="Campagnes").click()
    page.get_by_role("link", name="Nouvelle campagne").click()
    assert page.get_by_label("Année").input_value() == str(YEAR)
    now = datetime.now(PARIS)
    page.get_by_label("Ouverture des candidatures (heure de Paris)").fill(paris(now - timedelta(hours=1)))
    page.get_by_label("Clôture des candidatures (heure de Paris)").fill(paris(now + timedelta(days=10)))
    page.get_by_label("Cérémonie (heure de Paris)").fill(paris(now + timedelta(days=30)))
    page.get_by_label("Lieu de la cérémonie").fill("Lille")
    mentions = page.get_by_label("Mentions spéciales")
    mentions.fill(mentions.input_value() + "\nsolidarite | Solidarité numérique")
    page.get_by_role("button", name="Voir les changements").click()
    preview = page.locator("main").inner_text()
    assert "Grille identique" in preview and "Solidarité numérique" in preview
    checked(page, "nouvelle campagne (aperçu)")
    screenshot(page, "console-nouvelle-campagne")
    page.get_by_role("button", name=f"Créer la campagne {YEAR}").click()
    checked(page, "campagne")
    campaign = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=admin))
    assert campaign["grid"] == GRID and campaign["ceremony_place"] == "Lille"
    assert [m["code"] for m in campaign["mentions"]] == ["educ", "gouv", "solidarite"]

    # Three applications and two reviews each, through the API (jurors of other departments);
    # the reviewers disagree on Biscarrosse, whose extra review a third juror claims and gives.
    tokens = {}
    for insee, name, email in TOWNS:
        town = ok(
            stack.http(
                "POST",
                "/api/v1/collectivites",
                token=admin,
                json={"insee_code": insee, "name": name, "kind": "commune", "population": 20000,
                      "region": "Nouvelle-Aquitaine", "department": "40", "email": email},
            ),
            201,
        )  # fmt: skip
        draft = ok(
            stack.http(
                "POST",
                "/api/v1/applications",
                token=town["token"],
                json={"campaign_year": YEAR, "services": ["wifi", "video"], "initiatives": []},
            ),
            201,
        )
        ok(stack.http("POST", f"/api/v1/applications/{draft['id']}/submit", token=town["token"]))
        tokens[name] = town["token"]

    # Before any review: the three applications are at the jury, none of them disputed.
    def deliberation():
        page.goto(f"{stack.base_url}/organisation/campagnes/{YEAR}/deliberation")
        return page.locator("main").inner_text()

    poll(deliberation, lambda text: "3 candidatures sur cette page" in text)
    page.get_by_role("link", name="Désaccords du jury").click()
    assert "Aucun désaccord du jury." in page.locator("main").inner_text()
    checked(page, "délibération (aucun désaccord)")

    def claim_and_review(juror, review):
        """The juror claims a task of the campaign and gives it `review(town)`; the town's name."""
        task = poll(
            lambda: stack.http(
                "POST", "/api/v1/review-tasks/claim", token=juror["token"], json={"campaign_year": YEAR}
            ),
            lambda response: response.status_code == 200,
        ).json()
        town = task["collectivite"]["name"]
        ok(
            stack.http(
                "POST", f"/api/v1/review-tasks/{task['id']}/review", token=juror["token"], json=review(town)
            )
        )
        return town

    jurors = [
        ok(stack.http("POST", "/api/v1/jurors", token=admin, json=j), 201)
        for j in (
            {"name": "Paul Reviewer", "email": "paul.reviewer@jury.example.fr", "department": "75"},
            {"name": "Lucie Reviewer", "email": "lucie.reviewer@jury.example.fr", "department": "69"},
            {"name": "Inès Tiers", "email": "ines.tiers@jury.example.fr", "department": "33"},
        )
    ]
    for juror, theirs in zip(jurors[:2], (LOW, HIGH), strict=True):
        reviewed = [
            claim_and_review(juror, lambda town, theirs=theirs: theirs if town == DISPUTED else AGREED)
            for _ in TOWNS
        ]
        assert sorted(reviewed) == sorted(name for _, name, _ in TOWNS)
    # The only task left is Biscarrosse's extra review (the agreed ones have their proposal).
    assert claim_and_review(jurors[2], lambda town: THIRD) == DISPUTED

    # Following the reviews: the campaign's progress, then the applications.
    def progress():
        page.goto(f"{stack.base_url}/organisation/campagnes/{YEAR}")
        return page.locator("main").inner_text()

    poll(progress, lambda text: "Candidatures examinées (proposition du jury)\t3" in text)
    shown = progress()
    assert "Avis rendus\t7" in shown and "Avis attendus\t0" in shown  # 2 × 3, and Biscarrosse's third
    assert "Désaccords du jury\t1" in shown
    assert re.search(r"en un coup d'œil : chiffres du \d+(er)? \w+ \d{4} à \d+ h \d\d", shown)
    checked(page, "avancement")
    screenshot(page, "console-campagne")
    page.get_by_role("link", name=f"Candidatures {YEAR}").first.click()
    page.get_by_label("Nom ou code").fill("mont")
    page.get_by_role("button", name="Filtrer").click()
    assert "1 candidature" in page.get_by_role("status").inner_text()
    checked(page, "candidatures")
    screenshot(page, "console-candidatures")

    # Deliberation: override Dax's proposal (3 @) with 4 @; the reason is required.
    page.goto(f"{stack.base_url}/organisation/campagnes/{YEAR}/deliberation")
    checked(page, "délibération")
    screenshot(page, "console-deliberation")
    # The disagreements: Biscarrosse alone, still listed once its extra review settled
    # the proposal (the three reviews stay two arobases apart).
    page.get_by_role("link", name="Désaccords du jury").click()
    main = page.locator("main")
    expect(main.locator("caption")).to_have_text("1 candidature sur cette page")
    assert "Dax" not in main.inner_text() and "Mont-de-Marsan" not in main.inner_text()
    row = page.get_by_role("row", name=DISPUTED)
    cells = [cell.strip() for cell in row.get_by_role("cell").all_inner_texts()]
    assert cells[0] == f"{DISPUTED} (40046)\nDésaccord", cells
    # Three reviews of three expected, the two reviewers' arobases in their tasks' order, the third's last.
    assert re.fullmatch(r"3 / 3\n(1, 3|3, 1), 2 @", cells[1]), cells
    # The proposal, the median (2 @); the widest spread of an enjeu (accès, 1 to 4); no decision yet.
    assert cells[2:] == ["@@", "3", f"Décider pour {DISPUTED}"], cells
    checked(page, "délibération (désaccords)")
    screenshot(page, "console-desaccords")
    page.get_by_role("link", name="Toutes les candidatures").click()
    page.get_by_role("link", name="Décider pour Dax").click()
    assert "Solide." in page.locator("main").inner_text()
    page.get_by_label("4 arobases").check()
    page.get_by_role("button", name="Enregistrer la décision").click()
    assert page.locator("#f-reason").get_attribute("aria-invalid") == "true"
    checked(page, "décision (motif manquant)")
    page.get_by_label("Motif de la décision").fill("Un réseau de tiers-lieux remarquable, vu sur place.")
    page.get_by_role("button", name="Enregistrer la décision").click()
    assert "La décision est enregistrée" in page.get_by_role("status").inner_text()
    # Back on the deliberation, Dax's row shows it (read by the shelves of the page).
    assert "4 @ (écart motivé)" in page.get_by_role("row", name="Dax").inner_text()

    # Release: preview, an explicit confirmation naming the campaign, then the emails.
    def release_page():
        page.goto(f"{stack.base_url}/organisation/campagnes/{YEAR}/publication")
        return page.locator("main").inner_text()

    # Its first read: the awards service's timer drafts the preview, the page says so.
    assert "Aperçu en préparation : premier décompte en cours" in release_page()
    checked(page, "publication (aperçu en préparation)")
    screenshot(page, "console-publication-en-preparation")
    poll(release_page, lambda text: "Courriels de résultat à envoyer\n3" in text, interval=1)
    checked(page, "publication (aperçu)")
    page.get_by_role("button", name=f"Publier le palmarès {YEAR}").click()
    assert page.locator("#f-confirm").get_attribute("aria-describedby") == "f-confirm-erreur-1"
    assert ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=admin))["state"] != "released"
    page.get_by_label(f"Je confirme la publication du palmarès {YEAR}").check()
    page.get_by_role("button", name=f"Publier le palmarès {YEAR}").click()
    # The submissions are still open: a release before they close needs a reason.
    assert page.locator("#f-reason").get_attribute("aria-invalid") == "true"
    checked(page, "publication (motif manquant)")
    page.get_by_label("Motif d'une publication avant la clôture").fill(
        "Cérémonie avancée au salon des maires."
    )
    page.get_by_label(f"Je confirme la publication du palmarès {YEAR}").check()
    page.get_by_role("button", name=f"Publier le palmarès {YEAR}").click()
    # The progress updates itself on the page (a little JavaScript; "Actualiser" without it).
    expect(page.locator("#progression")).to_contain_text(re.compile(r"Envoyés\s*2"), timeout=45_000)
    expect(page.locator("#progression")).to_contain_text(re.compile(r"En échec\s*1"))

    text = poll(release_page, lambda text: "Envoyés\t2" in text and "En échec\t1" in text)
    assert f"Palmarès publié par {ORGANISER['name']}" in text
    checked(page, "publication (envoi)")
    screenshot(page, "console-publication")

    # The bounced email, resent from the outbox.
    page.get_by_role("link", name="les voir et les renvoyer").click()
    checked(page, "courriels")
    page.locator("table").first.get_by_role("link").first.click()
    assert "rebond@montdemarsan.example.fr" in page.locator("main").inner_text()
    checked(page, "courriel")
    page.get_by_role("button", name="Renvoyer ce courriel").click()
    assert "remis dans la file" in page.get_by_role("status").inner_text()
    poll(release_page, lambda text: "Envoyés\t3" in text)

    # The emails of one address (an equality read); a malformed one is named by its field.
    page.goto(f"{stack.base_url}/organisation/courriels")
    page.get_by_label("Adresse du destinataire").fill("rebond@montdemarsan.example.fr")
    page.get_by_role("button", name="Rechercher").click()
    theirs = page.get_by_role("table", name=re.compile("Courriels adressés à rebond@montdemarsan"))
    expect(theirs).to_contain_text("renvoyé par")
    checked(page, "courriels d'une adresse")
    screenshot(page, "console-courriels")
    page.goto(f"{stack.base_url}/organisation/courriels?adresse=rebond+chez+montdemarsan")
    assert page.locator("#f-adresse").get_attribute("aria-invalid") == "true"
    expect(page.locator("#erreurs")).to_contain_text("Adresse électronique invalide")
    checked(page, "courriels (adresse invalide)")
    page.goto(f"{stack.base_url}/organisation/lettres-mortes")
    checked(page, "lettres mortes")

    # A personal API token for labelctl: shown once, acts under the organiser's name, revocable.
    page.get_by_role("link", name="Mes jetons d'API").click()
    page.get_by_label("Nom du jeton").fill("labelctl, mon poste")
    page.get_by_role("button", name="Créer le jeton").click()
    personal = page.get_by_label("Jeton", exact=True).input_value()
    checked(page, "jetons d'API")
    assert personal.startswith("lvi_")
    mine = ok(stack.http("GET", "/api/v1/organisers", token=personal))
    assert ORGANISER["email"] in {o["email"] for o in mine}
    page.goto(f"{stack.base_url}/organisation/jetons")
    assert personal not in page.content()  # never shown again
    page.get_by_role("button", name="Révoquer « labelctl, mon poste »").click()
    assert "Le jeton est révoqué" in page.get_by_role("status").inner_text()
    assert stack.http("GET", "/api/v1/organisers", token=personal).status_code == 401

    # Through the API: who decided, who released, who resent.
    dax = f"{YEAR}:40088"
    rows = {
        r["application_id"]: r
        for r in ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/deliberation", token=admin))
    }
    assert rows[dax]["decision"]["arobases"] == 4
    assert rows[dax]["decision"]["decided_by"] == ORGANISER["email"]
    assert rows[dax]["decision"]["reason"].startswith("Un réseau de tiers-lieux")
    biscarrosse = rows[f"{YEAR}:40046"]
    assert biscarrosse["disagreement"] and biscarrosse["proposal"]["arobases"] == 2
    assert sorted(r["arobases"] for r in biscarrosse["reviews"]) == [1, 2, 3]
    released = ok(stack.http("POST", f"/api/v1/campaigns/{YEAR}/release", token=admin), 202)
    assert released["released_by"] == ORGANISER["email"]
    palmares = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/palmares"))
    assert {e["collectivite"]["name"]: e["arobases"] for e in palmares["labelled"]}["Dax"] == 4
    sent = ok(stack.http("GET", "/api/v1/outbox?state=sent", token=admin))
    [resent] = [e for e in sent if e["recipient"].startswith("rebond@") and e["template"] == "result"]
    assert resent["resent_by"] == ORGANISER["email"]
    assert ok(stack.http("GET", f"/api/v1/applications/{dax}/result", token=tokens["Dax"]))["arobases"] == 4


def signed_in(stack, address):
    """A session of a juror's or a collectivité's (their own homes)."""
    session, landed, token = web.signed_in(stack, address)
    assert landed.split("?")[0].rsplit("/", 1)[1] in ("jure", "collectivite")
    return session, token


CONSOLE_PAGES = [
    "/organisation",
    f"/organisation/campagnes/{PREVIOUS}",
    "/organisation/campagnes/nouvelle",
    "/organisation/jures",
    "/organisation/organisateurs",
    f"/organisation/campagnes/{PREVIOUS}/candidatures",
    f"/organisation/candidatures/{PREVIOUS}:40088",
    f"/organisation/campagnes/{PREVIOUS}/deliberation",
    f"/organisation/campagnes/{PREVIOUS}/publication",
    "/organisation/courriels",
    "/organisation/courriels/m0",
    "/organisation/lettres-mortes",
    "/organisation/jetons",
]
CONSOLE_ACTIONS = [
    "/organisation/campagnes/nouvelle",
    "/organisation/jures",
    "/organisation/organisateurs",
    "/organisation/comptes/sessions",
    "/organisation/comptes/revocation",
    f"/organisation/candidatures/{PREVIOUS}:40088/decision",
    f"/organisation/campagnes/{PREVIOUS}/publication",
    "/organisation/courriels/m0/renvoi",
    "/organisation/lettres-mortes",
    "/organisation/jetons",
    "/organisation/jetons/abc/revocation",
]


def test_jurors_and_collectivites_get_403_on_every_console_page_and_action(stack, previous_campaign):
    admin = stack.admin_token
    juror = ok(
        stack.http(
            "POST",
            "/api/v1/jurors",
            token=admin,
            json={"name": "Curieux", "email": "curieux@jury.example.fr", "department": "33"},
        ),
        201,
    )
    town = ok(
        stack.http(
            "POST",
            "/api/v1/collectivites",
            token=admin,
            json={
                "insee_code": "40279",
                "name": "Saint-Sever",
                "kind": "commune",
                "population": 4900,
                "region": "Nouvelle-Aquitaine",
                "department": "40",
                "email": "mairie@saint-sever.example.fr",
            },
        ),
        201,
    )
    for address in ("curieux@jury.example.fr", "mairie@saint-sever.example.fr"):
        session, token = signed_in(stack, address)
        for path in CONSOLE_PAGES:
            assert session.get(stack.base_url + path, allow_redirects=False).status_code == 403, (
                address,
                path,
            )
        for path in CONSOLE_ACTIONS:
            data = {"csrf_token": token, "confirm": str(PREVIOUS), "role": "juror", "subject": juror["id"]}
            response = session.post(stack.base_url + path, data=data, allow_redirects=False)
            assert response.status_code == 403, (address, path)
    # Nothing happened: no release, the juror not revoked, no organiser added.
    assert ok(stack.http("GET", f"/api/v1/campaigns/{PREVIOUS}", token=admin))["state"] != "released"
    assert ok(stack.http("GET", "/api/v1/jurors/me", token=juror["token"]))["name"] == "Curieux"
    assert all(
        o["email"] != "curieux@jury.example.fr"
        for o in ok(stack.http("GET", "/api/v1/organisers", token=admin))
    )

    # Revoked by an organiser: the juror's session and bearer token open nothing, and no link is sent.
    session, _ = signed_in(stack, "curieux@jury.example.fr")
    revoked = ok(
        stack.http(
            "POST", "/api/v1/accounts/revoke", token=admin, json={"role": "juror", "subject": juror["id"]}
        )
    )
    assert revoked["sessions_ended"] >= 1
    assert session.get(stack.base_url + "/jure", allow_redirects=False).status_code == 303
    assert stack.http("GET", "/api/v1/jurors/me", token=juror["token"]).status_code == 401
    assert stack.http("GET", f"/api/v1/collectivites/{town['id']}", token=town["token"]).status_code == 200
