"""SMTP transport security (services/notifications/mail.py): implicit TLS
(smtps://), required STARTTLS (?starttls=1), and credentials never sent over
a clear-text connection unless ?allow_plain_auth=1. A fake smtplib records
what would go on the wire."""

import smtplib
import ssl
from types import SimpleNamespace

import pytest

from services.common.startup import InsecureConfiguration, StartupChecks
from services.notifications import mail
from services.notifications.settings import check_smtp_url

STRONG = {"LABEL_ADMIN_TOKEN": "a" * 40, "LABEL_SECRET_KEY": "s" * 40, "LABEL_LOCAL_MODE": ""}


class FakeSmtp:
    """Stands for smtplib.SMTP / SMTP_SSL: records the calls in `wire`."""

    wire: list = []
    offers_starttls = True

    def __init__(self, host, port, timeout=None, context=None):
        self.context = context
        self.wire.append(("connect", type(self).__name__, host, port, context is not None))

    def ehlo(self):
        self.wire.append(("ehlo",))

    def starttls(self, context=None):
        if not self.offers_starttls:
            raise smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")
        assert isinstance(context, ssl.SSLContext)
        self.wire.append(("starttls",))

    def login(self, user, password):
        self.wire.append(("login", user, password))

    def quit(self):
        self.wire.append(("quit",))

    close = quit


class FakeSmtpSsl(FakeSmtp):
    pass


@pytest.fixture
def wire(monkeypatch):
    FakeSmtp.wire = []
    FakeSmtp.offers_starttls = True
    monkeypatch.setattr(mail.smtplib, "SMTP", FakeSmtp)
    monkeypatch.setattr(mail.smtplib, "SMTP_SSL", FakeSmtpSsl)
    return FakeSmtp.wire


@pytest.mark.parametrize(
    "url",
    [
        "smtp://user:secret@mail.example.fr",
        "smtp://user:secret@mail.example.fr:587?starttls=0",
        "smtp://user@mail.example.fr:25",
    ],
)
def test_credentials_over_clear_text_are_refused(wire, url):
    with pytest.raises(mail.InsecureSmtpSettings) as caught:
        mail.parse_smtp_url(url)
    assert "SMTP_URL" in str(caught.value) and "non chiffrée" in str(caught.value)
    assert wire == []  # nothing was opened


def test_connect_refuses_clear_text_credentials_before_opening_a_connection(wire):
    settings = mail.SmtpSettings(host="mail.example.fr", port=25, username="user", password="secret")
    with pytest.raises(mail.InsecureSmtpSettings):
        mail.connect(settings)
    assert wire == []


def test_smtps_is_implicit_tls_then_login(wire):
    settings = mail.parse_smtp_url("smtps://user:secret@mail.example.fr")
    mail.connect(settings)
    assert wire == [
        ("connect", "FakeSmtpSsl", "mail.example.fr", 465, True),
        ("ehlo",),
        ("login", "user", "secret"),
    ]


@pytest.mark.parametrize("flag", ["1", "true", "yes"])
def test_starttls_upgrades_before_the_credentials(wire, flag):
    settings = mail.parse_smtp_url(f"smtp://user:secret@mail.example.fr:587?starttls={flag}")
    mail.connect(settings)
    assert wire == [
        ("connect", "FakeSmtp", "mail.example.fr", 587, False),
        ("ehlo",),
        ("starttls",),
        ("ehlo",),
        ("login", "user", "secret"),
    ]


def test_a_server_without_starttls_gets_no_credentials(wire):
    FakeSmtp.offers_starttls = False
    settings = mail.parse_smtp_url("smtp://user:secret@mail.example.fr:587?starttls=1")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        mail.connect(settings)
    assert not [step for step in wire if step[0] == "login"]


def test_allow_plain_auth_is_an_explicit_choice(wire):
    settings = mail.parse_smtp_url("smtp://user:secret@relay.internal:25?allow_plain_auth=1")
    mail.connect(settings)
    assert ("login", "user", "secret") in wire and ("starttls",) not in wire


def test_no_credentials_no_tls_is_the_local_capture(wire):
    settings = mail.parse_smtp_url("smtp://127.0.0.1:1025")
    mail.connect(settings)
    assert wire == [("connect", "FakeSmtp", "127.0.0.1", 1025, False), ("ehlo",)]


def test_cafile_and_unknown_options():
    assert mail.parse_smtp_url("smtps://mail.example.fr?cafile=/etc/ca.pem").cafile == "/etc/ca.pem"
    with pytest.raises(ValueError, match="startls"):
        mail.parse_smtp_url("smtp://user:secret@mail.example.fr?startls=1")


def test_the_notifications_service_refuses_to_start_with_clear_text_credentials(caplog):
    checks = StartupChecks(check_smtp_url)
    checks.container = SimpleNamespace(
        config=dict(STRONG, SMTP_URL="smtp://user:secret@mail.example.fr:25"), service_name="notifications"
    )
    with pytest.raises(InsecureConfiguration):
        checks.setup()
    assert "SMTP_URL" in caplog.text and "secret" not in caplog.text.replace("LABEL_SECRET_KEY", "")
    checks.container.config["SMTP_URL"] = "smtp://user:secret@mail.example.fr:587?starttls=1"
    checks.setup()
