"""A browser-less web session: signed in from the link the sign-in email
carries, as a person would (tests and benchmarks over HTTP)."""

import re

import requests

from tests.support.api import ok, poll
from tests.support.mail import Mailbox

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in_link(message):
    text = message.get_body(("plain",)).get_content()
    return re.search(r"(http\S+/connexion/lien\?jeton=\S+)", text).group(1)


def sign_in_links(stack, address):
    """The sign-in links sent to `address` so far, oldest first (other mails,
    such as receipts, may arrive between them in any order)."""
    return [
        sign_in_link(m)
        for m in stack.mail.messages()
        if Mailbox.to(address)(m) and "/connexion/lien" in m.get_body(("plain",)).get_content()
    ]


def signed_in(stack, address):
    """A requests session signed in from the link sent to `address`, the page
    it landed on, and its form token."""
    session = requests.Session()
    token = FORM_TOKEN.search(session.get(stack.base_url + "/connexion").text).group(1)
    before = len(sign_in_links(stack, address))
    ok(session.post(stack.base_url + "/connexion", data={"email": address, "csrf_token": token}))
    link = poll(lambda: sign_in_links(stack, address), lambda found: len(found) > before)[-1]
    jeton = requests.utils.unquote(link.split("jeton=", 1)[1])
    opened = session.post(stack.base_url + "/connexion/lien", data={"jeton": jeton, "csrf_token": token})
    assert ok(opened) is None  # an HTML page
    return session, opened.url, FORM_TOKEN.search(opened.text).group(1)
