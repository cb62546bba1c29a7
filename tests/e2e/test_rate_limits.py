"""Rate limits of the mail-sending endpoints, end to end: per recipient and per
client address (every test client is 127.0.0.1), 429 with Retry-After on the
API (API.md's error format) and on the pages; an organiser's sign-ups are
trusted. The gateway runs with small limits for this module, then gets the
stack's back. This module's INSEE codes: 48001-48009 (Lozère)."""

import re

import pytest
import requests

from tests.support.api import ok
from tests.support.browser import assert_accessible

pytestmark = pytest.mark.e2e

# A window far longer than the test: no window boundary in the middle of it.
WINDOW = 10**9
LIMITS = {
    "RATE_LIMIT_PER_CLIENT": "6",
    "RATE_LIMIT_PER_RECIPIENT": "2",
    "RATE_LIMIT_WINDOW_SECONDS": str(WINDOW),
}


@pytest.fixture
def small_limits(stack):
    stack.restart("gateway", LIMITS)
    try:
        yield stack
    finally:
        stack.restart("gateway")


def commune(insee, email):
    return {
        "insee_code": insee,
        "name": f"Commune {insee}",
        "kind": "commune",
        "population": 800,
        "region": "Occitanie",
        "department": "48",
        "email": email,
    }


def refused(response):
    assert response.status_code == 429, f"{response.status_code}: {response.text}"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= WINDOW
    return response


def sent_to(stack, address):
    return [m for m in stack.mail.messages() if address in str(m["To"])]


def test_mail_sending_requests_are_limited_per_recipient_and_per_client(small_limits, page):
    stack = small_limits
    # Per recipient: two sign-ups with one address, the third is refused and stores nothing.
    ok(
        stack.http("POST", "/api/v1/collectivites", json=commune("48001", "maire@lozere.rate.example.fr")),
        201,
    )
    ok(
        stack.http("POST", "/api/v1/collectivites", json=commune("48002", "maire@lozere.rate.example.fr")),
        201,
    )
    third = refused(
        stack.http("POST", "/api/v1/collectivites", json=commune("48003", "maire@lozere.rate.example.fr"))
    )
    error = third.json()["error"]
    assert error["code"] == "rate_limited"
    assert "pour cette adresse électronique" in error["message"] and "réessayez dans" in error["message"]
    assert stack.http("GET", "/api/v1/collectivites/48003", token=stack.admin_token).status_code == 404

    # An organiser's sign-up (labelctl import, the demo) is trusted: not limited, token given.
    trusted = ok(
        stack.http(
            "POST",
            "/api/v1/collectivites",
            token=stack.admin_token,
            json=commune("48004", "maire@lozere.rate.example.fr"),
        ),
        201,
    )
    assert trusted["token"]

    # Per client: 3 requests so far; three sign-in link requests fill the window of 6.
    session = requests.Session()
    form_token = re.search(
        r'name="csrf_token" value="([^"]+)"', session.get(stack.base_url + "/connexion").text
    ).group(1)
    for n in range(3):
        address = f"agent{n}@lozere.rate.example.fr"
        ok(session.post(stack.base_url + "/connexion", data={"email": address, "csrf_token": form_token}))
    html = refused(
        session.post(
            stack.base_url + "/connexion",
            data={"email": "autre@lozere.rate.example.fr", "csrf_token": form_token},
        )
    )
    assert "text/html" in html.headers["Content-Type"]
    assert "Trop de demandes" in html.text and "depuis votre adresse réseau" in html.text

    # The same refusal in Chromium: a French page, accessible.
    page.goto(stack.base_url + "/connexion")
    page.get_by_label("Adresse électronique").fill("navigateur@lozere.rate.example.fr")
    with page.expect_response(lambda r: r.url.endswith("/connexion") and r.request.method == "POST") as sent:
        page.get_by_role("button", name="Recevoir mon lien de connexion").click()
    assert sent.value.status == 429 and sent.value.headers["retry-after"]
    assert page.get_by_role("heading", name="Trop de demandes").is_visible()
    assert_accessible(page, "trop de demandes")

    api = refused(
        stack.http("POST", "/api/v1/collectivites", json=commune("48005", "neuf@lozere.rate.example.fr"))
    )
    assert "depuis votre adresse réseau" in api.json()["error"]["message"]
    assert stack.http("GET", "/api/v1/collectivites/48005", token=stack.admin_token).status_code == 404
    assert not sent_to(stack, "neuf@lozere.rate.example.fr")
    assert not sent_to(stack, "autre@lozere.rate.example.fr")

    # The organiser's console still works from the same address.
    ok(
        stack.http(
            "POST",
            "/api/v1/collectivites",
            token=stack.admin_token,
            json=commune("48006", "autre@lozere.rate.example.fr"),
        ),
        201,
    )
