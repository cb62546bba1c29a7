"""Header injection refused; SMTP_URL forms; retryable vs permanent SMTP errors."""

import smtplib
from datetime import UTC, datetime

import pytest

from services.common.clock import utcnow
from services.notifications import logic, mail
from tests.unit.notifications.fixtures import BESANCON, SETTINGS, FakeRepos, envelope

NOW = datetime(2017, 6, 1, tzinfo=UTC)


def build(**overrides):
    args = dict(
        sender="Villes Internet <label@villes-internet.net>",
        recipient="maire@ville.fr",
        recipient_name="Ville",
        subject="Sujet",
        text="t",
        html="<p>h</p>",
        message_id="<x@villes-internet.net>",
        date=NOW,
    )
    args.update(overrides)
    return mail.build_message(**args)


@pytest.mark.parametrize(
    "recipient",
    [
        "maire@ville.fr\r\nBcc: victim@example.com",
        "maire@ville.fr\nBcc: victim@example.com",
        "maire@ville.fr, other@example.com",
        "<maire@ville.fr>, other@example.com",
        "not-an-address",
        "maire@localhost",
        "",
    ],
)
def test_bad_recipient_refused(recipient):
    with pytest.raises(mail.InvalidHeader):
        build(recipient=recipient)


@pytest.mark.parametrize("field", ["subject", "recipient_name"])
def test_crlf_in_subject_or_name_refused(field):
    with pytest.raises(mail.InvalidHeader):
        build(**{field: "Bonjour\r\nBcc: victim@example.com"})


def test_good_message_has_the_headers():
    msg = build(recipient_name="Saint-Étienne, « ville »")
    raw = msg.as_bytes()
    assert b"\nBcc" not in raw
    assert msg["To"].addresses[0].display_name == "Saint-Étienne, « ville »"
    for header in ("From", "To", "Subject", "Date", "Message-ID"):
        assert msg[header]


def test_injected_name_is_stored_as_failed_never_queued():
    repos = FakeRepos()
    notifications = logic.Notifications(repos, logic.Renderer(), SETTINGS, utcnow())
    evil = dict(BESANCON, name="Besançon\r\nBcc: victim@example.com")
    notifications.on_collectivite_registered(
        envelope("collectivite_registered", collectivite=evil, access_token="t")
    )
    [doc] = repos.emails.docs.values()
    assert doc["state"] == "failed" and "en-tête refusé" in doc["last_error"]
    evil = dict(BESANCON, email="a@b.fr\nBcc: victim@example.com")
    notifications.on_collectivite_registered(
        envelope("collectivite_registered", collectivite=evil, access_token="t")
    )
    assert [d["state"] for d in repos.emails.docs.values()] == ["failed", "failed"]


@pytest.mark.parametrize(
    "email, name",
    [
        ("maire@ville.fr", "Saint-Étienne, « ville »"),
        ("maire@ville.fr", "Ville\r\nBcc: victim@example.com"),
        ("maire@ville.fr", "Ville <maire@ville.fr>"),
        ("maire@ville.fr, other@example.com", "Ville"),
        ("Ville <maire@ville.fr>", ""),
        ("maire@localhost", "Ville"),
        ("maire@ville.fr\u2028Bcc: victim@example.com", "Ville"),
    ],
)
def test_the_queue_refuses_exactly_what_building_the_message_would(email, name):
    """The queue checks the headers without building the message (the sender
    builds it): it must refuse what build_message refuses, and only that."""
    repos = FakeRepos()
    notifications = logic.Notifications(repos, logic.Renderer(), SETTINGS, utcnow())
    notifications.on_collectivite_registered(
        envelope(
            "collectivite_registered", collectivite=dict(BESANCON, email=email, name=name), access_token="t"
        )
    )
    [doc] = repos.emails.docs.values()
    try:
        build(recipient=doc["recipient"], recipient_name=doc["recipient_name"], subject=doc["subject"])
    except mail.InvalidHeader:
        assert doc["state"] == "failed"
    else:
        assert doc["state"] == "queued"


def test_smtp_urls():
    s = mail.parse_smtp_url("smtp://127.0.0.1:1025")
    assert (s.host, s.port, s.ssl, s.starttls, s.username) == ("127.0.0.1", 1025, False, False, "")
    s = mail.parse_smtp_url("smtps://user%40x.fr:p%3Ass@mail.example.fr")
    assert (s.port, s.ssl, s.username, s.password) == (465, True, "user@x.fr", "p:ss")
    s = mail.parse_smtp_url("smtp://u:p@mail.example.fr:587?starttls=1")
    assert (s.port, s.starttls, s.ssl) == (587, True, False)
    with pytest.raises(ValueError):
        mail.parse_smtp_url("http://x")


@pytest.mark.parametrize(
    "exc,verdict",
    [
        (ConnectionRefusedError(111, "refused"), "retry"),
        (smtplib.SMTPServerDisconnected("gone"), "retry"),
        (TimeoutError(), "retry"),
        (smtplib.SMTPDataError(421, b"closing"), "retry"),
        (smtplib.SMTPDataError(451, b"greylisted"), "retry"),
        (smtplib.SMTPSenderRefused(452, b"too many", "x@y.fr"), "retry"),
        (smtplib.SMTPRecipientsRefused({"a@b.fr": (450, b"busy")}), "retry"),
        (smtplib.SMTPRecipientsRefused({"a@b.fr": (550, b"no such user")}), "fail"),
        (smtplib.SMTPDataError(554, b"rejected"), "fail"),
        (mail.InvalidHeader("x"), "fail"),
    ],
)
def test_classify(exc, verdict):
    assert mail.classify(exc)[0] == verdict
