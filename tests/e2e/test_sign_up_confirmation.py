"""A public sign-up through the API: only the confirmation link goes to the
address (no text the requester wrote), the token may not apply until the link
is followed; then the welcome email. An unconfirmed sign-up expires: the timer
forgets its address and the code is free for the right one. This module's
campaign year: 2811; INSEE codes 12001-12009 (Aveyron)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.support.api import ok, poll
from tests.support.mail import Mailbox

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


def link_in(message):
    text = message.get_body(("plain",)).get_content()
    return re.search(r"(http\S+/connexion/lien\?jeton=\S+)", text).group(1)


def follow(stack, link):
    session = requests.Session()
    jeton = requests.utils.unquote(link.split("jeton=", 1)[1])
    page = session.get(stack.base_url + "/connexion/lien", params={"jeton": jeton})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return session.post(stack.base_url + "/connexion/lien", data={"jeton": jeton, "csrf_token": csrf})


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
    opened = follow(stack, link_in(confirmation))
    assert opened.status_code == 200 and opened.url.split("?")[0].endswith("/collectivite")

    welcome = poll(
        lambda: stack.mail.messages(), lambda found: sum(Mailbox.to(address)(m) for m in found) == 2
    )
    assert any("Bienvenue" in str(m["Subject"]) for m in welcome if Mailbox.to(address)(m))
    ok(stack.http("POST", "/api/v1/applications", token=created["token"], json=application()), 201)


def test_an_unconfirmed_sign_up_expires_and_frees_its_code(stack, campaign):
    stack.restart("submissions", {"UNCONFIRMED_SIGN_UP_SECONDS": "2"})
    try:
        ok(
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
        link = link_in(stack.mail.wait_for(Mailbox.to("squat@confirm.example.fr"))[0])
        late = follow(stack, link)
        assert late.status_code == 409 and "a expiré" in late.text

        # The right address takes the code; the squatter's token applies to nothing.
        right = ok(
            stack.http(
                "POST", "/api/v1/collectivites", json=commune("12002", "mairie@12002.confirm.example.fr")
            ),
            201,
        )
        follow(stack, link_in(stack.mail.wait_for(Mailbox.to("mairie@12002.confirm.example.fr"))[0]))
        ok(stack.http("POST", "/api/v1/applications", token=right["token"], json=application()), 201)
    finally:
        stack.restart("submissions")
