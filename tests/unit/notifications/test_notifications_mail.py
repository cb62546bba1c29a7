"""Header injection refused; SMTP_URL forms; retryable vs permanent SMTP errors."""

import smtplib
from datetime import UTC, datetime
from email.policy import SMTP as SMTP_POLICY

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


def test_a_boundary_given_makes_the_bytes_a_boundary_set_afterwards_made():
    """The sender gives the boundary while building (its header parsed once);
    the bytes are those of the email package's own set_boundary, so a resend
    is the message sent before this change too."""
    text = "Madame, Monsieur le Maire,\n" + "Nous avons le plaisir de vous annoncer… é à ç\n" * 20
    args = dict(subject="Résultat du label 2027 : 4 @", text=text, html=f"<p>{text}</p>")
    given = build(**args, boundary="=_2027:25056:result")
    afterwards = build(**args)
    afterwards.set_boundary("=_2027:25056:result")
    assert given.as_bytes(policy=SMTP_POLICY) == afterwards.as_bytes(policy=SMTP_POLICY)
    assert given.get_boundary() == "=_2027:25056:result"
    assert build(**args, boundary="=_b").as_bytes() == build(**args, boundary="=_b").as_bytes()


def test_each_sender_gets_its_own_from_header():
    other = build(sender="Association <contact@association.fr>")
    assert other["From"].addresses[0].addr_spec == "contact@association.fr"
    assert build()["From"].addresses[0].addr_spec == "label@villes-internet.net"
    with pytest.raises(mail.InvalidHeader):
        build(sender="Villes Internet <label@villes-internet.net>\r\nBcc: victim@example.com")


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
