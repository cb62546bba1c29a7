"""The organisers' outbox over HTTP (API.md, Mail): a sign-up's welcome email
listed once sent, read rendered, not resendable; organisers only.
This module's campaign years: 2401-2499 (none needed yet); INSEE codes 23096, 23097."""

import pytest

from tests.support.api import ok, poll

pytestmark = pytest.mark.e2e

EMAIL = "numerique@gueret.mail-routes.example.fr"


def sign_up(stack, insee, name, email):
    return ok(
        stack.http(
            "POST",
            "/api/v1/collectivites",
            token=stack.admin_token,  # trusted: confirmed at once
            json={
                "insee_code": insee,
                "name": name,
                "kind": "commune",
                "population": 13000,
                "region": "Nouvelle-Aquitaine",
                "department": "23",
                "email": email,
            },
        ),
        201,
    )


def error(response, status):
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()["error"]


def test_outbox_lists_reads_and_refuses_to_resend_a_sent_welcome_email(stack):
    admin = stack.admin_token
    town = sign_up(stack, "23096", "Guéret", EMAIL)

    def sent_to_town():
        rows = ok(stack.http("GET", "/api/v1/outbox?state=sent", token=admin))
        assert all(row["state"] == "sent" for row in rows)
        return [row for row in rows if row["recipient"] == EMAIL]

    [row] = poll(sent_to_town, bool)
    assert row["template"] == "welcome_collectivite" and row["attempts"] == 1
    assert row["sent_at"] and "Guéret" in row["subject"]
    assert "text" not in row and "html" not in row  # the list stays light

    detail = ok(stack.http("GET", f"/api/v1/outbox/{row['id']}", token=admin))
    assert detail["id"] == row["id"] and detail["subject"] == row["subject"] and detail["state"] == "sent"
    assert town["token"] not in detail["text"]  # emails carry a way to sign in, never the token
    assert f"{stack.base_url}/collectivite" in detail["text"]
    assert "<html" in detail["html"].lower() and "Guéret" in detail["html"]
    [message] = stack.mail.wait_for(lambda m: EMAIL in m.get("To", ""))
    assert str(message["Subject"]) == detail["subject"] and str(message["Message-ID"]) == detail["message_id"]

    conflict = error(stack.http("POST", f"/api/v1/outbox/{row['id']}/resend", token=admin), 409)
    assert conflict["code"] == "email_not_failed"
    assert ok(stack.http("GET", f"/api/v1/outbox/{row['id']}", token=admin))["state"] == "sent"
    assert (
        error(stack.http("GET", "/api/v1/outbox/mdoesnotexist", token=admin), 404)["code"]
        == "email_not_found"
    )

    # Organisers only: no token → 401, a collectivité's token → 403, on every route.
    other = sign_up(stack, "23097", "Saint-Fiel", "mairie@saint-fiel.mail-routes.example.fr")
    for method, path in (
        ("GET", "/api/v1/outbox?state=sent"),
        ("GET", f"/api/v1/outbox/{row['id']}"),
        ("POST", f"/api/v1/outbox/{row['id']}/resend"),
    ):
        assert stack.http(method, path).status_code == 401, path
        assert stack.http(method, path, token=town["token"]).status_code == 403, path
        assert stack.http(method, path, token=other["token"]).status_code == 403, path

    bad = error(stack.http("GET", "/api/v1/outbox?state=bogus", token=admin), 422)
    assert "state" in bad["fields"]
