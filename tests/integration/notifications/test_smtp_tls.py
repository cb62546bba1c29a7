"""The notifications sender's SMTP transport against a real aiosmtpd server with
a certificate from a throw-away CA (trustme): STARTTLS and implicit TLS
(smtps://) carry the credentials encrypted; a certificate we do not trust
stops the connection before any credential is sent."""

import ssl
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme

from services.notifications import mail
from tests.support.net import free_port, wait_tcp

ROOT = Path(__file__).resolve().parents[3]
SERVER = Path(__file__).with_name("smtpd_tls.py")
USER, PASSWORD = "label@villes-internet.net", "mot de passe: s3cret"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    authority = trustme.CA()
    directory = tmp_path_factory.mktemp("tls")
    cert = authority.issue_cert("127.0.0.1", "localhost")
    pem = directory / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(pem))
    ca_file = directory / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    return {"pem": pem, "ca": ca_file}


@pytest.fixture(params=["starttls", "smtps"])
def server(request, ca, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SERVER),
            *("--port", str(port), "--dir", str(tmp_path), "--pem", str(ca["pem"])),
            *("--mode", request.param, "--user", USER, "--password", PASSWORD),
        ],
        cwd=ROOT,
        stdout=open(tmp_path / "server.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_tcp("127.0.0.1", port, timeout=15, what="aiosmtpd TLS server")
        scheme, query = ("smtp", "starttls=1&") if request.param == "starttls" else ("smtps", "")
        quoted = f"{USER.replace('@', '%40')}:{PASSWORD.replace(' ', '%20').replace(':', '%3A')}"
        yield {
            "url": f"{scheme}://{quoted}@127.0.0.1:{port}?{query}cafile={ca['ca']}",
            "untrusted": f"{scheme}://{quoted}@127.0.0.1:{port}" + ("?starttls=1" if query else ""),
            "dir": tmp_path,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def auth_log(directory):
    path = directory / "auth.log"
    return path.read_text().splitlines() if path.exists() else []


def test_credentials_and_mail_go_over_tls(server):
    settings = mail.parse_smtp_url(server["url"], timeout=10)
    assert settings.encrypted and settings.username == USER and settings.password == PASSWORD
    client = mail.connect(settings)
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = USER, "mairie@besancon.example.fr", "Essai TLS"
        message.set_content("Bonjour")
        client.send_message(message)
    finally:
        mail.close_quietly(client)
    assert auth_log(server["dir"]) == [f"{USER} tls=True"]
    assert [p for p in server["dir"].glob("*.eml") if b"Essai TLS" in p.read_bytes()]


def test_an_untrusted_certificate_stops_before_the_credentials(server):
    settings = mail.parse_smtp_url(server["untrusted"], timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        mail.connect(settings)
    assert auth_log(server["dir"]) == []
