"""MIME messages and SMTP transport: plain Python, no nameko.

Header injection: every address goes through email.headerregistry.Address and
must round-trip through email.utils.parseaddr unchanged; CR/LF (or any control
character) in a subject or a display name is refused, never stripped.
"""

import functools
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as EMAIL_POLICY  # EmailMessage's own
from email.utils import format_datetime, getaddresses, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


class InvalidHeader(ValueError):
    """An address, name or subject that could smuggle a header; never sent."""


def check_header_text(value, what):
    if not isinstance(value, str) or _CONTROL.search(value):
        raise InvalidHeader(f"{what}: caractère de contrôle (retour à la ligne) interdit")
    return value


def parse_address(text, name=""):
    """An Address for `text` (a bare addr-spec, or "Name <addr>"), or InvalidHeader."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidHeader("adresse vide")
    check_header_text(text, "adresse")
    check_header_text(name or "", "nom")
    if len(getaddresses([text])) != 1:
        raise InvalidHeader(f"une seule adresse attendue : {text!r}")
    parsed_name, addr = parseaddr(text)
    if not addr or "@" not in addr or addr.count("@") != 1:
        raise InvalidHeader(f"adresse invalide : {text!r}")
    try:
        address = Address(display_name=name or parsed_name, addr_spec=addr)
    except Exception as exc:  # headerregistry raises various parse errors
        raise InvalidHeader(f"adresse invalide : {text!r} ({exc})") from None
    if not address.username or not address.domain or "." not in address.domain:
        raise InvalidHeader(f"adresse invalide : {text!r}")
    if parseaddr(str(address))[1] != addr:  # must round-trip: nothing hidden in it
        raise InvalidHeader(f"adresse invalide : {text!r}")
    return address


@functools.lru_cache(maxsize=8)
def message_domain(sender):
    return parse_address(sender).domain  # one sender: parsed once, not for each email queued


@functools.lru_cache(maxsize=8)
def _from_header(sender):
    # One sender for every email: parsed once, not at each message (the
    # email package's header parsing is most of a message's cost).
    return EMAIL_POLICY.header_factory("From", parse_address(sender))


def build_message(*, sender, recipient, recipient_name, subject, text, html, message_id, date, boundary=None):
    """multipart/alternative (text, then HTML) with From, To, Subject, Date,
    Message-ID; `boundary` fixed makes the same email the same bytes."""
    check_header_text(subject, "sujet")
    msg = EmailMessage()
    msg["From"] = _from_header(sender)
    msg["To"] = parse_address(recipient, recipient_name or "")
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["MIME-Version"] = "1.0"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.make_alternative(boundary=boundary)  # given here, not set after: no header parsed again
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


# --- SMTP ------------------------------------------------------------------


class InsecureSmtpSettings(ValueError):
    """SMTP_URL would send the credentials in clear text: refused, never sent."""


PLAIN_AUTH_REFUSED = (
    "SMTP_URL : identifiants refusés sur une connexion non chiffrée ; utilisez smtps:// "
    "ou ?starttls=1 (ou ?allow_plain_auth=1 pour l'accepter explicitement) / SMTP_URL: "
    "credentials are never sent over an unencrypted connection"
)
_QUERY_OPTIONS = ("starttls", "allow_plain_auth", "cafile")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    ssl: bool = False
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    allow_plain_auth: bool = False
    cafile: str = ""  # CA certificates to trust instead of the system's (a private CA)

    @property
    def encrypted(self):
        return self.ssl or self.starttls


def _flag(query, name):
    return query.get(name, ["0"])[-1].lower() in ("1", "true", "yes", "on")


def parse_smtp_url(url, timeout=30.0):
    """smtp://[user:password@]host[:port][?starttls=1] (STARTTLS, required) or
    smtps://... (implicit TLS); `cafile=/path` trusts that CA bundle. Credentials
    over plain smtp:// are refused unless `allow_plain_auth=1`."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP_URL: scheme smtp:// or smtps:// expected, got {parts.scheme!r}")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(_QUERY_OPTIONS))
    if unknown:
        raise ValueError(
            f"SMTP_URL : option inconnue {', '.join(unknown)} (connues : {', '.join(_QUERY_OPTIONS)})"
        )
    secure = parts.scheme == "smtps"
    settings = SmtpSettings(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or (465 if secure else 25),
        ssl=secure,
        starttls=_flag(query, "starttls") and not secure,
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        timeout=timeout,
        allow_plain_auth=_flag(query, "allow_plain_auth"),
        cafile=query.get("cafile", [""])[-1],
    )
    check_plain_auth(settings)
    return settings


def check_plain_auth(settings):
    if settings.username and not settings.encrypted and not settings.allow_plain_auth:
        raise InsecureSmtpSettings(PLAIN_AUTH_REFUSED)


def tls_context(settings):
    return ssl.create_default_context(cafile=settings.cafile or None)


def connect(settings):
    """An authenticated SMTP connection ready for transactions. With STARTTLS
    the upgrade is required (no silent fall back to clear text); credentials
    go over an encrypted connection only, unless allow_plain_auth."""
    check_plain_auth(settings)
    client: smtplib.SMTP
    if settings.ssl:
        client = smtplib.SMTP_SSL(
            settings.host, settings.port, timeout=settings.timeout, context=tls_context(settings)
        )
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        client.ehlo()
        if settings.starttls:
            client.starttls(context=tls_context(settings))  # SMTPNotSupportedError if not offered
            client.ehlo()
        if settings.username:
            client.login(settings.username, settings.password)
    except BaseException:
        close_quietly(client)
        raise
    return client


def close_quietly(client):
    if client is None:
        return
    try:
        client.quit()
    except Exception:
        try:
            client.close()
        except Exception:
            pass


# Transient failures: worth another attempt later. Connection-level errors
# (server down, restarting, dropped connection, timeouts, TLS hiccups) and the
# SMTP codes below: 101/111 connection problems, 421 service closing, 422
# mailbox full, 431 out of memory, 432/454 temporary auth/TLS failure, 441/442
# no answer / connection dropped, 447 timeout, 450/451 mailbox busy / local
# error (greylisting), 452 too many recipients / insufficient storage.
RETRYABLE_EXCEPTIONS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    ConnectionError,
    TimeoutError,
    socket.timeout,
    socket.gaierror,
    ssl.SSLError,
)
RETRYABLE_CODES = frozenset({101, 111, 421, 422, 431, 432, 441, 442, 447, 450, 451, 452, 454})
# Authentication rejected: a configuration problem, not the message's; retried
# (bounded) so fixing SMTP_URL and restarting loses no mail.
AUTH_CODES = frozenset({530, 534, 535})


def classify(exc):
    """("retry" | "fail", reason) for an exception raised while sending."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        reason = "; ".join(f"{rcpt}: {code} {msg!r}" for rcpt, (code, msg) in exc.recipients.items())
        retry = codes and all(code in RETRYABLE_CODES or 400 <= code < 500 for code in codes)
        return ("retry" if retry else "fail"), f"destinataire refusé ({reason})"
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        reason = f"{code} {exc.smtp_error!r}"
        if code in RETRYABLE_CODES or code in AUTH_CODES or 400 <= code < 500:
            return "retry", reason
        return "fail", reason
    if isinstance(exc, InvalidHeader):
        return "fail", str(exc)
    if isinstance(exc, RETRYABLE_EXCEPTIONS) or isinstance(exc, OSError):
        return "retry", f"connexion SMTP : {exc.__class__.__name__}: {exc}"
    return "fail", f"{exc.__class__.__name__}: {exc}"
