"""A public sign-up through the API: only the confirmation link goes to the
address (no text the requester wrote), the token may not apply until the link
is followed; then the welcome email. An unconfirmed sign-up expires: the timer
forgets its address and the code is free for the right one. This module's
campaign year: 2811; INSEE codes 12001-12009 (Aveyron)."""

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.support import web
from tests.support.api import ok, poll
from tests.support.mail import Mailbox
from tests.support.stack import ROOT

pytestmark = pytest.mark.e2e

YEAR = 2811


def commune(insee, email, name=None):
    return {
        "insee_code": insee,
        "name": name or f"Commune {insee}",
        "kind": "commune",
        "population": 700,
        "region": "Occitanie",
        "department": "12",
        "email": email,
    }


def application():
    return {"campaign_year": YEAR, "services": [], "initiatives": []}


def follow(stack, link):
    session = requests.Session()
    jeton = requests.utils.unquote(link.split("jeton=", 1)[1])
    page = session.get(stack.base_url + "/connexion/lien", params={"jeton": jeton})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = session.post(stack.base_url + "/connexion/lien", data={"jeton": jeton, "csrf_token": csrf})
    response.browser = session  # its cookies: the session opened, if any
    return response


@pytest.fixture(scope="module")
def campaign(stack):
    moment = datetime.now(UTC)
    body = {
        "year": YEAR,
        "title": f"Label {YEAR}",
        "submissions_open_at": (moment - timedelta(hours=1)).isoformat(),
        "submissions_close_at": (moment + timedelta(days=30)).isoformat(),
        "ceremony_at": (moment + timedelta(days=60)).isoformat(),
        "ceremony_place": "Rodez",
    }
    return ok(stack.http("POST", "/api/v1/campaigns", token=stack.admin_token, json=body), 201)


def test_a_public_sign_up_acts_only_once_its_address_is_confirmed(stack, campaign):
    address = "mairie@12001.confirm.example.fr"
    bait = "Gagnez un iPhone sur http://arnaque.example"
    created = ok(stack.http("POST", "/api/v1/collectivites", json=commune("12001", address, bait)), 201)
    assert created["token"] and created["confirmed"] is False

    refused = stack.http("POST", "/api/v1/applications", token=created["token"], json=application())
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "address_unconfirmed"
    assert "confirmée" in refused.json()["error"]["message"]

    [confirmation] = stack.mail.wait_for(Mailbox.to(address))
    assert "iPhone" not in str(confirmation["Subject"]) and "iPhone" not in Mailbox.text(confirmation)
    opened = follow(stack, web.sign_in_link(confirmation))
    assert opened.status_code == 200 and opened.url.split("?")[0].endswith("/collectivite")

    welcome = poll(
        lambda: stack.mail.messages(), lambda found: sum(Mailbox.to(address)(m) for m in found) == 2
    )
    assert any("Bienvenue" in str(m["Subject"]) for m in welcome if Mailbox.to(address)(m))
    ok(stack.http("POST", "/api/v1/applications", token=created["token"], json=application()), 201)


def test_an_unconfirmed_sign_up_expires_and_frees_its_code(stack, campaign):
    stack.restart("submissions", {"UNCONFIRMED_SIGN_UP_SECONDS": "2"})
    try:
        squatter = ok(
            stack.http("POST", "/api/v1/collectivites", json=commune("12002", "squat@confirm.example.fr")),
            201,
        )
        # The timer forgets the squatter's address once the delay is over.
        poll(
            lambda: stack.mongo("submissions").collectivites.find_one({"_id": "12002"}),
            lambda doc: doc.get("expired_at") is not None and doc["email"] == "",
            timeout=60,
            interval=1,
        )
        link = web.sign_in_link(stack.mail.wait_for(Mailbox.to("squat@confirm.example.fr"))[0])
        late = follow(stack, link)
        assert late.status_code == 409 and "a expiré" in late.text
    finally:
        stack.restart("submissions")  # the usual delay: the right address has time to confirm

    # The right address takes the code; the squatter's token opens nothing any more.
    right = ok(
        stack.http("POST", "/api/v1/collectivites", json=commune("12002", "mairie@12002.confirm.example.fr")),
        201,
    )
    follow(stack, web.sign_in_link(stack.mail.wait_for(Mailbox.to("mairie@12002.confirm.example.fr"))[0]))
    ok(stack.http("POST", "/api/v1/applications", token=right["token"], json=application()), 201)
    assert stack.http("GET", "/api/v1/collectivites/12002", token=squatter["token"]).status_code == 401


def labelctl(stack, *args):
    env = dict(os.environ, LABEL_API_URL=stack.base_url, LABEL_TOKEN=stack.admin_token, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "labelctl.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_organiser_hands_a_squatted_code_back_to_the_right_address(stack, campaign):
    squat, right = "squat@12003.confirm.example.fr", "mairie@12003.confirm.example.fr"
    squatter = ok(stack.http("POST", "/api/v1/collectivites", json=commune("12003", squat)), 201)
    session = follow(stack, web.sign_in_link(stack.mail.wait_for(Mailbox.to(squat))[0]))
    assert session.url.split("?")[0].endswith("/collectivite")
    ok(stack.http("POST", "/api/v1/applications", token=squatter["token"], json=application()), 201)
    # A link the squatter asked for and has not used yet.
    form = requests.Session()
    csrf = re.search(
        r'name="csrf_token" value="([^"]+)"', form.get(stack.base_url + "/connexion").text
    ).group(1)
    ok(form.post(stack.base_url + "/connexion", data={"email": squat, "csrf_token": csrf}))
    # The receipt of the application may arrive before or after this link.
    unused = poll(lambda: web.sign_in_links(stack, squat), lambda links: len(links) >= 2)[-1]

    done = labelctl(stack, "collectivite", "reassign", "12003", right)
    assert done.returncode == 0, done.stderr
    assert "rendue à mairie@12003.confirm.example.fr" in done.stdout and "Sessions fermées : 1" in done.stdout

    # The squatter: token, session and unused link open nothing.
    refused = stack.http("GET", "/api/v1/collectivites/12003", token=squatter["token"])
    assert refused.status_code == 401
    back = session.browser.get(f"{stack.base_url}/collectivite/candidature/{YEAR}", allow_redirects=False)
    assert back.status_code in (302, 303) and "/connexion" in back.headers["Location"]
    late = follow(stack, unused)
    assert late.status_code == 403 and "plus celle de la collectivité" in late.text

    # The right address confirms with its link and opens the space.
    opened = follow(stack, web.sign_in_link(stack.mail.wait_for(Mailbox.to(right))[0]))
    assert opened.status_code == 200 and opened.url.split("?")[0].endswith("/collectivite")
    assert stack.mongo("submissions").collectivites.find_one({"_id": "12003"})["email"] == right

    # Only an organiser may reassign.
    assert (
        stack.http(
            "POST", "/api/v1/collectivites/12003/reassign", token=squatter["token"], json={"email": squat}
        )
    ).status_code == 401
    bad = stack.http(
        "POST", "/api/v1/collectivites/12003/reassign", token=stack.admin_token, json={"email": "x"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["fields"]["email"] == [
        "Adresse électronique invalide."
    ]
