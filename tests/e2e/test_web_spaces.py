"""The collectivité's and the juror's web spaces, played in Chromium against
the running stack: sign-in by the link of the captured email, a draft over two
visits, submission, two jurors who read the dossier and review (one with a
"non applicable" enjeu), a conflict declared on a third task, and the result
page after the organisers' release. Every page passes axe-core (no serious or
critical violation); every journey ends with what is stored, read through the
API. Campaign year 2310; departments 38 and 39."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.support import web
from tests.support.api import ok, poll
from tests.support.browser import DESKTOP, PHONE, assert_accessible, screenshot
from tests.support.mail import Mailbox

pytestmark = pytest.mark.e2e

YEAR = 2310
TOWN = {
    "insee": "39300",
    "name": "Champagnole",
    "population": "8 100",
    "email": "mairie@champagnole.example.fr",
}
OTHER = {
    "insee": "38421",
    "name": "Saint-Martin-le-Vinoux",
    "email": "numerique@saint-martin-le-vinoux.example.fr",
}
JUROR_ISERE = {"name": "Claire Dupont", "email": "claire.dupont@jury.example.fr", "department": "38"}
JUROR_PARIS = {"name": "Marc Lefèvre", "email": "marc.lefevre@jury.example.fr", "department": "75"}
ISERE_COMMENT = "Belle dynamique citoyenne."
EDITED_COMMENT = "Belle dynamique citoyenne ; la fabrique numérique mérite d'être mieux connue."
PARIS_COMMENT = "Marc Lefèvre : remarque interne, à ne pas transmettre."
ORGANISER = {"name": "Sophie Garnier", "email": "sophie.garnier@villes-internet.example.fr"}


def sign_in_link(stack, address, after=0):
    """The link of the newest sign-in email to `address` (one more than `after` of them)."""

    def links():
        found = []
        for message in stack.mail.messages():
            if (
                Mailbox.to(address)(message)
                and "/connexion/lien" in message.get_body(("plain",)).get_content()
            ):
                found.append(web.sign_in_link(message))
        return found

    return poll(links, lambda found: len(found) > after, timeout=30)[-1]


def count_links(stack, address):
    return sum(
        1
        for message in stack.mail.messages()
        if Mailbox.to(address)(message) and "/connexion/lien" in message.get_body(("plain",)).get_content()
    )


def checked(page, page_name):
    assert_accessible(page, page_name)
    return page


def follow_link(page, link, name):
    page.goto(link)
    checked(page, f"{name}: lien de connexion")
    page.get_by_role("button", name="Se connecter").click()


def request_link(stack, page, address):
    before = count_links(stack, address)
    page.goto(stack.base_url + "/connexion")
    checked(page, "connexion")
    page.get_by_label("Adresse électronique").fill(address)
    page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    page.get_by_role("heading", name="Vérifiez votre messagerie").wait_for()
    checked(page, "connexion envoyée")
    return sign_in_link(stack, address, after=before)


@pytest.fixture(scope="module")
def campaign(stack):
    now = datetime.now(UTC)
    ok(
        stack.http(
            "POST",
            "/api/v1/campaigns",
            token=stack.admin_token,
            json={
                "year": YEAR,
                "title": f"Label Territoires, Villes et Villages Internet {YEAR}",
                "submissions_open_at": (now - timedelta(hours=1)).isoformat(),
                "submissions_close_at": (now + timedelta(days=20)).isoformat(),
                "ceremony_at": (now + timedelta(days=40)).isoformat(),
                "ceremony_place": "Lille",
                "reviews_per_application": 2,
            },
        ),
        201,
    )
    return ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=stack.admin_token))


@pytest.fixture(scope="module")
def jurors(stack):
    return {
        juror["email"]: ok(stack.http("POST", "/api/v1/jurors", token=stack.admin_token, json=juror), 201)
        for juror in (JUROR_ISERE, JUROR_PARIS)
    }


def test_collectivite_signs_up_drafts_over_two_visits_and_submits(stack, campaign, browser):
    enjeu1, enjeu2 = campaign["grid"]["enjeux"][:2]
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()

    # Sign-up: the category is shown, and nothing opens until the address is confirmed.
    page.goto(stack.base_url + "/collectivite")
    checked(page, "espace collectivité (accueil)")
    page.get_by_role("link", name="Inscrire ma collectivité").click()
    checked(page, "inscription")
    page.get_by_role("button", name="Inscrire ma collectivité").click()
    assert page.get_by_role("heading", name=re.compile("points? à corriger")).is_visible()
    assert page.locator("#f-population").get_attribute("aria-invalid") == "true"
    checked(page, "inscription (erreurs)")
    page.get_by_label("Code INSEE de la commune, ou SIREN de l'EPCI").fill(TOWN["insee"])
    page.get_by_label("Nom officiel").fill(TOWN["name"])
    page.get_by_label("Population (habitants)").fill(TOWN["population"])
    page.get_by_label("Région").select_option("Bourgogne-Franche-Comté")
    page.get_by_label("Département (numéro)").fill("39")
    page.get_by_label("Adresse électronique de la collectivité").fill(TOWN["email"])
    screenshot(page, "collectivite-inscription")
    page.get_by_role("button", name="Inscrire ma collectivité").click()
    assert "catégorie Ville" in page.locator("main").inner_text()
    checked(page, "inscription reçue")
    page.goto(stack.base_url + f"/collectivite/candidature/{YEAR}")
    assert "/connexion" in page.url  # no session before the link is followed

    follow_link(page, sign_in_link(stack, TOWN["email"]), "collectivité")
    assert page.url.endswith("/collectivite?message=signed_in")
    checked(page, "tableau de bord collectivité")

    # First visit: two services of the first enjeu and one initiative, saved as a draft.
    page.get_by_role("link", name=f"Commencer ma candidature {YEAR}").click()
    services1 = enjeu1["services"][:2]
    for service in services1:
        page.get_by_label(service["label"], exact=True).check()
    page.get_by_text(f"Ajouter une initiative pour « {enjeu1['label']} »").click()
    page.get_by_label("Titre de la nouvelle initiative").first.fill("Fabrique numérique du Jura")
    page.get_by_label("Description de la nouvelle initiative").first.fill(
        "Un tiers-lieu ouvert aux habitants."
    )
    page.get_by_label("Lien vers la nouvelle initiative (facultatif)").first.fill("pas-une-adresse")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    # A bad link is named by its field, and nothing is stored.
    assert page.locator("#f-initiatives-0-url").get_attribute("aria-invalid") == "true"
    checked(page, "candidature (erreur)")
    assert stack.http("GET", f"/api/v1/campaigns/{YEAR}/applications", token=stack.admin_token).json() == []
    page.get_by_label("Lien vers l'initiative (facultatif)").fill("https://champagnole.example.fr/fabrique")
    page.get_by_role("button", name="Enregistrer le brouillon").click()
    assert "Votre brouillon est enregistré" in page.get_by_role("status").inner_text()
    checked(page, "candidature (brouillon)")
    screenshot(page, "collectivite-candidature")
    page.get_by_role("button", name="Se déconnecter").click()
    assert page.url.split("?")[0].endswith("/connexion")

    # Second visit: the draft is there; one more service and an initiative of another enjeu.
    follow_link(page, request_link(stack, page, TOWN["email"]), "collectivité, 2e visite")
    page.goto(stack.base_url + f"/collectivite/candidature/{YEAR}")
    for service in services1:
        assert page.get_by_label(service["label"], exact=True).is_checked()
    assert (
        page.get_by_label("Titre de l'initiative", exact=True).input_value() == "Fabrique numérique du Jura"
    )
    page.get_by_label(enjeu2["services"][0]["label"], exact=True).check()
    page.get_by_text(f"Ajouter une initiative pour « {enjeu2['label']} »").click()
    page.get_by_label("Titre de la nouvelle initiative").nth(1).fill("Conseil municipal en vidéo")
    page.get_by_label("Description de la nouvelle initiative").nth(1).fill(
        "Chaque séance diffusée et archivée."
    )
    page.get_by_role("button", name="Enregistrer et passer au dépôt").click()
    checked(page, "dépôt (récapitulatif)")
    summary = page.locator("main").inner_text()
    assert enjeu2["services"][0]["label"] in summary and "Conseil municipal en vidéo" in summary
    page.get_by_role("button", name=f"Déposer ma candidature {YEAR}").click()
    assert "Votre candidature est déposée" in page.get_by_role("status").inner_text()
    assert page.locator("[aria-current=step]").inner_text().startswith("Déposée")
    checked(page, "tableau de bord (déposée)")
    screenshot(page, "collectivite-tableau")
    # On a phone: the same page, nothing wider than the screen, and still accessible.
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    checked(page, "tableau de bord (téléphone)")
    screenshot(page, "collectivite-telephone", size=PHONE)
    page.set_viewport_size(DESKTOP)
    # Withdrawing asks first; "Non" leaves the application as it is.
    page.get_by_role("link", name="Retirer ma candidature").click()
    checked(page, "retrait (confirmation)")
    page.get_by_role("link", name="Non, revenir à mon espace").click()
    assert page.locator("[aria-current=step]").inner_text().startswith("Déposée")
    context.close()

    # What is stored, read through the API.
    [application] = ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/applications", token=stack.admin_token))
    assert application["state"] == "submitted"
    assert application["collectivite"]["insee_code"] == TOWN["insee"]
    assert application["collectivite"]["population"] == 8100
    assert set(application["services"]) == {s["code"] for s in services1} | {enjeu2["services"][0]["code"]}
    assert [(i["title"], i["enjeu"], i["url"]) for i in application["initiatives"]] == [
        ("Fabrique numérique du Jura", enjeu1["code"], "https://champagnole.example.fr/fabrique"),
        ("Conseil municipal en vidéo", enjeu2["code"], None),
    ]


def test_jurors_read_the_dossier_review_and_declare_a_conflict(stack, campaign, jurors, browser):
    enjeux = [enjeu["code"] for enjeu in campaign["grid"]["enjeux"]]
    # A second application, through the API, for the third task.
    other = ok(
        stack.http(
            "POST",
            "/api/v1/collectivites",
            token=stack.admin_token,
            json={
                "insee_code": OTHER["insee"],
                "name": OTHER["name"],
                "kind": "commune",
                "population": 5700,
                "region": "Auvergne-Rhône-Alpes",
                "department": "38",
                "email": OTHER["email"],
            },
        ),
        201,
    )
    draft = ok(
        stack.http(
            "POST",
            "/api/v1/applications",
            token=other["token"],
            json={
                "campaign_year": YEAR,
                "services": [campaign["grid"]["enjeux"][0]["services"][0]["code"]],
                "initiatives": [],
            },
        ),
        201,
    )
    ok(stack.http("POST", f"/api/v1/applications/{draft['id']}/submit", token=other["token"]))
    town_app = f"{YEAR}:{TOWN['insee']}"

    # The Isère juror (never a commune of the Isère, department 38) gets the Champagnole dossier.
    isere = browser.new_context(locale="fr-FR").new_page()
    follow_link(isere, request_link(stack, isere, JUROR_ISERE["email"]), "juré de l'Isère")
    assert isere.url.split("?")[0].endswith("/jure")
    checked(isere, "tableau de bord juré")
    screenshot(isere, "jure-tableau")
    poll(
        lambda: (
            isere.reload() or isere.get_by_role("button", name=f"Prendre le dossier suivant ({YEAR})").count()
        ),
        bool,
    )
    isere.get_by_role("button", name=f"Prendre le dossier suivant ({YEAR})").click()
    assert isere.get_by_role("heading", level=1).inner_text() == f"Dossier de {TOWN['name']} ({YEAR})"
    dossier = isere.locator("main").inner_text()
    assert "8 100 habitants" in dossier and "Fabrique numérique du Jura" in dossier
    assert campaign["grid"]["enjeux"][0]["services"][0]["label"] in dossier
    checked(isere, "dossier")
    screenshot(isere, "jure-dossier")
    isere_task = isere.url.rsplit("/", 1)[1]

    # Nobody but the holder reads a dossier (API: 403).
    paris_token = jurors[JUROR_PARIS["email"]]["token"]
    denied = stack.http("GET", f"/api/v1/review-tasks/{isere_task}/application", token=paris_token)
    assert denied.status_code == 403, denied.text
    assert stack.http("GET", "/api/v1/review-tasks/nope:1/application", token=paris_token).status_code == 404

    # The review form names what is missing, then takes "non applicable" for one enjeu.
    isere.get_by_role("button", name="Enregistrer mon avis").click()
    assert isere.locator("#f-arobases").get_attribute("aria-describedby") == "f-arobases-erreur-1"
    checked(isere, "avis (erreurs)")
    for index in range(len(enjeux)):
        group = isere.get_by_role(
            "group", name=re.compile(f"^Note « {re.escape(campaign['grid']['enjeux'][index]['label'])} »")
        )
        group.get_by_label("Non applicable" if index == 0 else "3 – développé").check()
    isere.get_by_role("radio", name=re.compile("^@@@ 3 arobases")).check()
    isere.get_by_label("Commentaire pour les organisateurs (facultatif)").fill(ISERE_COMMENT)
    isere.get_by_role("button", name="Enregistrer mon avis").click()
    assert "Votre avis est enregistré" in isere.get_by_role("status").inner_text()
    assert TOWN["name"] in isere.get_by_role("table").inner_text()

    # The Paris juror: the fewest-reviewed application first (Saint-Martin-le-Vinoux), declares a conflict.
    poll(
        lambda: stack.http(
            "GET", f"/api/v1/review-tasks?state=open&campaign_year={YEAR}", token=paris_token
        ).json(),
        lambda tasks: any(task["application_id"] == draft["id"] for task in tasks),
    )
    paris = browser.new_context(locale="fr-FR").new_page()
    follow_link(paris, request_link(stack, paris, JUROR_PARIS["email"]), "juré de Paris")
    paris.get_by_role("button", name=f"Prendre le dossier suivant ({YEAR})").click()
    assert OTHER["name"] in paris.get_by_role("heading", level=1).inner_text()
    paris.get_by_role("link", name="Je connais cette collectivité").click()
    checked(paris, "conflit d'intérêts")
    paris.get_by_role("button", name="Confirmer le conflit d'intérêts").click()
    assert "vous n'examinerez plus cette collectivité" in paris.get_by_role("status").inner_text()
    # Then the remaining Champagnole task, reviewed.
    paris.get_by_role("button", name=f"Prendre le dossier suivant ({YEAR})").click()
    assert TOWN["name"] in paris.get_by_role("heading", level=1).inner_text()
    for index in range(len(enjeux)):
        paris.get_by_role(
            "group", name=re.compile(f"^Note « {re.escape(campaign['grid']['enjeux'][index]['label'])} »")
        ).get_by_label("3 – développé").check()
    paris.get_by_role("radio", name=re.compile("^@@@ 3 arobases")).check()
    paris.get_by_label("Commentaire pour les organisateurs (facultatif)").fill(PARIS_COMMENT)
    paris.get_by_role("button", name="Enregistrer mon avis").click()
    assert "Votre avis est enregistré" in paris.get_by_role("status").inner_text()

    # Stored: two reviews (one with a null score), the proposal, the conflict kept for good.
    me = ok(stack.http("GET", "/api/v1/jurors/me", token=paris_token))
    assert OTHER["insee"] in me["conflicts"]
    open_tasks = ok(
        stack.http("GET", f"/api/v1/review-tasks?state=open&campaign_year={YEAR}", token=paris_token)
    )
    assert all(task["application_id"] != draft["id"] for task in open_tasks)
    row = poll(
        lambda: next(
            r
            for r in ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}/deliberation", token=stack.admin_token))
            if r["application_id"] == town_app
        ),
        lambda r: r["proposal"] is not None,
    )
    assert row["proposal"]["arobases"] == 3 and len(row["reviews"]) == 2
    assert sorted(review["scores"][enjeux[0]] is None for review in row["reviews"]) == [False, True]
    assert row["spread"][enjeux[0]] == {"min": 3, "max": 3, "spread": 0}


def test_organiser_edits_one_comment_and_hides_another(stack, campaign, browser):
    town_app = f"{YEAR}:{TOWN['insee']}"
    ok(stack.http("POST", "/api/v1/organisers", token=stack.admin_token, json=ORGANISER), 201)
    page = browser.new_context(locale="fr-FR").new_page()
    follow_link(page, request_link(stack, page, ORGANISER["email"]), "organisatrice, commentaires")
    page.goto(stack.base_url + f"/organisation/candidatures/{town_app}")
    comments = page.get_by_role("region", name=re.compile("^Commentaire de l'avis"))
    assert comments.count() == 2 and "non relu" in comments.first.inner_text()
    checked(page, "candidature : commentaires à modérer")
    by_text = {
        ISERE_COMMENT: comments.filter(has_text=ISERE_COMMENT),
        PARIS_COMMENT: comments.filter(has_text=PARIS_COMMENT),
    }
    # "Edited" with an empty text is refused, named, and changes nothing.
    isere = by_text[ISERE_COMMENT]
    isere.get_by_label("Transmettre le texte modifié ci-dessous").check()
    isere.get_by_role("textbox").fill("")
    isere.get_by_role("button", name=re.compile("^Enregistrer la modération")).click()
    assert page.get_by_role("heading", name=re.compile("point à corriger")).is_visible()
    checked(page, "candidature : modération (erreur)")
    isere = page.get_by_role("region", name=re.compile("^Commentaire de l'avis")).filter(
        has_text=ISERE_COMMENT
    )
    isere.get_by_label("Transmettre le texte modifié ci-dessous").check()
    isere.get_by_role("textbox").fill(EDITED_COMMENT)
    isere.get_by_role("button", name=re.compile("^Enregistrer la modération")).click()
    assert "Le commentaire est modéré" in page.get_by_role("status").inner_text()
    paris = page.get_by_role("region", name=re.compile("^Commentaire de l'avis")).filter(
        has_text=PARIS_COMMENT
    )
    paris.get_by_label("Masquer").check()
    paris.get_by_role("button", name=re.compile("^Enregistrer la modération")).click()
    checked(page, "candidature : commentaires modérés")
    screenshot(page, "organisation-commentaires")
    stored = ok(stack.http("GET", f"/api/v1/applications/{town_app}/comments", token=stack.admin_token))
    assert sorted((c["state"], c["text"]) for c in stored) == [("edited", EDITED_COMMENT), ("hidden", None)]
    assert all(set(c) == {"review_id", "number", "comment", "state", "text", "moderated_by"} for c in stored)
    # Bad input by the API: a French error naming the field, nothing stored.
    refused = stack.http(
        "PUT",
        f"/api/v1/applications/{town_app}/comments/{stored[0]['review_id']}",
        token=stack.admin_token,
        json={"state": "publie"},
    )
    assert (
        refused.status_code == 422
        and "approuver, modifier ou masquer" in refused.json()["error"]["fields"]["state"][0]
    )


def test_collectivite_sees_its_result_after_the_release(stack, campaign, browser):
    town_app = f"{YEAR}:{TOWN['insee']}"
    page = browser.new_context(locale="fr-FR").new_page()
    follow_link(page, request_link(stack, page, TOWN["email"]), "collectivité, résultat")
    page.goto(stack.base_url + f"/collectivite/resultat/{YEAR}")
    assert "sera dévoilé lors de la cérémonie" in page.locator("main").inner_text()
    assert EDITED_COMMENT not in page.locator("main").inner_text()  # nothing before the release
    checked(page, "résultat sous embargo")

    poll(
        lambda: stack.http(
            "GET", f"/api/v1/campaigns/{YEAR}/release/preview", token=stack.admin_token
        ).json(),
        lambda preview: town_app not in preview.get("undecided", [town_app]),
    )
    ok(
        stack.http(
            "POST",
            f"/api/v1/campaigns/{YEAR}/release",
            token=stack.admin_token,
            json={"force": True, "reason": "Essai de bout en bout : publication avant la clôture."},
        ),
        202,
    )
    poll(
        lambda: stack.http("GET", f"/api/v1/applications/{town_app}/result", token=stack.admin_token),
        lambda r: r.status_code == 200,
    )
    poll(
        lambda: ok(stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=stack.admin_token))["state"],
        lambda s: s == "released",
    )

    page.goto(stack.base_url + "/collectivite")
    page.get_by_role("link", name="Voir mon résultat").click()
    result = page.locator("main").inner_text()
    assert "labellisée @@@ (3 arobases)" in result
    # The jury's feedback: chart and table per enjeu, the edited comment, never the hidden one.
    assert EDITED_COMMENT in result and ISERE_COMMENT not in result
    assert PARIS_COMMENT not in result and JUROR_PARIS["name"] not in result
    assert JUROR_ISERE["name"] not in result
    chart = page.get_by_role(
        "img", name="Vos notes par enjeu comparées à la moyenne de votre catégorie (sur 4)"
    )
    assert chart.count() == 1
    table = page.get_by_role("table", name=re.compile("^Notes par enjeu")).inner_text()
    first, second = campaign["grid"]["enjeux"][:2]
    # Champagnole: enjeu 1 non applicable for one juror, 3 for the other → 3; enjeu 2: 3 and 3.
    assert re.search(rf"{re.escape(first['label'])}\s+3\s+3", table), table
    assert re.search(rf"{re.escape(second['label'])}\s+3\s+3", table), table
    checked(page, "résultat")
    screenshot(page, "collectivite-resultat")
    api_result = ok(stack.http("GET", f"/api/v1/applications/{town_app}/result", token=stack.admin_token))
    assert api_result["labelled"] and api_result["arobases"] == 3
    feedback = api_result["feedback"]
    assert feedback["comments"] == [EDITED_COMMENT] and feedback["category"] == "ville"
    assert feedback["scores"][0] == {
        "enjeu": first["code"],
        "label": first["label"],
        "score": 3.0,
        "category_average": 3.0,
    }
    # The public palmarès never carries it; the result letter does.
    palmares = ok(requests.get(f"{stack.api}/campaigns/{YEAR}/palmares", timeout=10))
    assert all("feedback" not in entry for entry in palmares["labelled"])
    letter = poll(
        lambda: [
            m.get_body(("plain",)).get_content()
            for m in stack.mail.messages()
            if Mailbox.to(TOWN["email"])(m) and "Le retour du jury" in m.get_body(("plain",)).get_content()
        ],
        bool,
        timeout=60,
    )[0]
    assert EDITED_COMMENT in letter and PARIS_COMMENT not in letter and JUROR_ISERE["name"] not in letter
    # After the release, no comment changes.
    comment = ok(stack.http("GET", f"/api/v1/applications/{town_app}/comments", token=stack.admin_token))[0]
    late = stack.http(
        "PUT",
        f"/api/v1/applications/{town_app}/comments/{comment['review_id']}",
        token=stack.admin_token,
        json={"state": "approved"},
    )
    assert late.status_code == 409


def test_a_link_serves_once_a_form_needs_its_csrf_token_and_sign_out_ends_the_session(stack, jurors):
    address = JUROR_ISERE["email"]
    session = requests.Session()
    page = session.get(stack.base_url + "/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    before = count_links(stack, address)

    # A form above the size limit is refused before it is read.
    huge = session.post(stack.base_url + "/connexion", data={"email": "x" * 2_000_000, "csrf_token": token})
    assert huge.status_code == 413 and "trop volumineux" in huge.text

    # A form without its CSRF token is refused, and sends nothing.
    refused = session.post(stack.base_url + "/connexion", data={"email": address})
    assert refused.status_code == 403 and "Formulaire expiré" in refused.text
    assert (
        session.post(
            stack.base_url + "/connexion", data={"email": address, "csrf_token": "x" * 64}
        ).status_code
        == 403
    )
    ok(session.post(stack.base_url + "/connexion", data={"email": address, "csrf_token": token}))
    link = sign_in_link(stack, address, after=before)
    assert count_links(stack, address) == before + 1

    jeton = link.split("jeton=", 1)[1]
    follow = {"jeton": requests.utils.unquote(jeton), "csrf_token": token}
    opened = session.post(stack.base_url + "/connexion/lien", data=follow, allow_redirects=False)
    assert opened.status_code == 303 and opened.headers["Location"].startswith("/jure")
    cookie = opened.cookies["lvi_session"]
    assert "HttpOnly" in opened.headers["Set-Cookie"] and "SameSite=Lax" in opened.headers["Set-Cookie"]
    assert session.get(stack.base_url + "/jure", allow_redirects=False).status_code == 200

    # Used once: a second use (another browser) is refused.
    other = requests.Session()
    other_token = re.search(r'name="csrf_token" value="([^"]+)"', other.get(link).text).group(1)
    again = other.post(
        stack.base_url + "/connexion/lien", data=dict(follow, csrf_token=other_token), allow_redirects=False
    )
    assert again.status_code == 410 and "déjà servi" in again.text
    assert "lvi_session" not in again.cookies
    # A forged link is refused before any lookup.
    assert other.get(stack.base_url + "/connexion/lien?jeton=abc.def").status_code == 400

    # Sign out, then the same cookie is refused for good.
    home = session.get(stack.base_url + "/jure")
    signed_in_token = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    out = session.post(
        stack.base_url + "/deconnexion", data={"csrf_token": signed_in_token}, allow_redirects=False
    )
    assert out.status_code == 303
    replay = requests.get(stack.base_url + "/jure", cookies={"lvi_session": cookie}, allow_redirects=False)
    assert replay.status_code == 303 and replay.headers["Location"].startswith("/connexion")


def test_campaigns_and_their_grid_are_readable_without_a_token(stack, campaign):
    listed = ok(requests.get(f"{stack.api}/campaigns", timeout=10))
    assert YEAR in [c["year"] for c in listed]
    grid = ok(requests.get(f"{stack.api}/campaigns/{YEAR}", timeout=10))["grid"]
    assert grid == campaign["grid"]


def test_a_role_sees_only_its_own_space(stack, jurors):
    session = requests.Session()
    address = JUROR_PARIS["email"]
    before = count_links(stack, address)
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', session.get(stack.base_url + "/connexion").text
    ).group(1)
    ok(session.post(stack.base_url + "/connexion", data={"email": address, "csrf_token": token}))
    jeton = requests.utils.unquote(sign_in_link(stack, address, after=before).split("jeton=", 1)[1])
    session.post(stack.base_url + "/connexion/lien", data={"jeton": jeton, "csrf_token": token})
    # Signed in, the forms carry a token bound to the session.
    token = re.search(r'name="csrf_token" value="([^"]+)"', session.get(stack.base_url + "/jure").text).group(
        1
    )
    for path in (f"/collectivite/candidature/{YEAR}", "/organisation"):
        assert session.get(stack.base_url + path, allow_redirects=False).status_code == 403, path
    # An unknown address gets the same page, and no email.
    total = len(stack.mail.messages())
    ok(
        session.post(
            stack.base_url + "/connexion",
            data={"email": "inconnu@nulle-part.example.fr", "csrf_token": token},
        )
    )
    assert len(stack.mail.messages()) == total


def test_the_home_page_and_an_organisers_sign_in(stack, browser):
    page = browser.new_context(locale="fr-FR").new_page()
    page.goto(stack.base_url + "/")
    checked(page, "accueil")
    page.get_by_role("link", name="Espace juré").click()
    assert "/connexion" in page.url  # a space needs a session
    address = "delphine.martin@villes-internet.example.fr"
    ok(
        stack.http(
            "POST",
            "/api/v1/organisers",
            token=stack.admin_token,
            json={"name": "Delphine Martin", "email": address},
        ),
        201,
    )
    follow_link(page, request_link(stack, page, address), "organisateur")
    assert page.url.split("?")[0].endswith("/organisation")
    assert f"Label Territoires, Villes et Villages Internet {YEAR}" in page.get_by_role("table").inner_text()
    checked(page, "espace des organisateurs")

    # A page asked for before signing in is the one the link opens.
    other = browser.new_context(locale="fr-FR").new_page()
    other.goto(stack.base_url + "/organisation/jures")
    assert "/connexion?suite=" in other.url
    before = count_links(stack, address)
    other.get_by_label("Adresse électronique").fill(address)
    other.get_by_role("button", name="Recevoir mon lien de connexion").click()
    follow_link(other, sign_in_link(stack, address, after=before), "organisateur, page demandée")
    assert other.url.split("?")[0].endswith("/organisation/jures")
