"""Sign-in by email link and web sessions: the rules, in plain Python.

A link is `<nonce>.<signature>` (itsdangerous): a forged or mangled link is
refused before any lookup. The link's record, keyed by the nonce's SHA-256,
says who it opens, and until when (30 minutes). Its first use inserts a
uniquely keyed marker: of two clicks, one opens a session, the other is told
the link has served. A session is a random token in an HttpOnly cookie whose
record (keyed by its SHA-256) is deleted on "Se déconnecter", for good.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer

LINK_MINUTES = 30
SESSION_HOURS = 12
ROLE_HOMES = {"collectivite": "/collectivite", "juror": "/jure", "organiser": "/organisation"}


class LinkRefused(Exception):
    """A sign-in link that opens nothing; `message` says why, in French."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Account:
    """Someone a link may open a session for."""

    role: str
    subject: str
    label: str


def digest(secret_text: str) -> str:
    return hashlib.sha256(secret_text.encode()).hexdigest()


class SignIn:
    def __init__(self, links, sessions, secret: str, now: datetime):
        self.links = links
        self.sessions = sessions
        self.signer = Signer(secret, salt="label-sign-in-link")
        self.now = now

    # -- links ---------------------------------------------------------------

    def new_link(self, account: Account, email: str) -> str:
        """The token to put in a link that opens `account`'s space."""
        nonce = secrets.token_urlsafe(24)
        self.links.add(
            {
                "_id": digest(nonce),
                "role": account.role,
                "subject": account.subject,
                "email": email,
                "created_at": self.now,
                "expires_at": self.now + timedelta(minutes=LINK_MINUTES),
            }
        )
        return self.signer.sign(nonce).decode()

    def check(self, token: str) -> dict:
        """The link's record if it may still open a session (nothing is used)."""
        try:
            nonce = self.signer.unsign(token or "").decode()
        except BadSignature:
            raise LinkRefused("link_invalid", "Ce lien de connexion n'est pas valide.") from None
        link = self.links.get(digest(nonce))
        if link is None:
            raise LinkRefused("link_invalid", "Ce lien de connexion n'est pas valide.")
        if link["expires_at"] <= self.now:
            raise LinkRefused(
                "link_expired",
                f"Ce lien de connexion a expiré (il est valable {LINK_MINUTES} minutes) : "
                "demandez-en un nouveau.",
            )
        return link

    def follow(self, token: str) -> tuple[str, dict]:
        """Use the link once: (session token for the cookie, the session record)."""
        link = self.check(token)
        if not self.links.use(link):
            raise LinkRefused(
                "link_used", "Ce lien de connexion a déjà servi : demandez-en un nouveau si besoin."
            )
        session_token = secrets.token_urlsafe(32)
        session = {
            "_id": digest(session_token),
            "role": link["role"],
            "subject": link["subject"],
            "email": link["email"],
            "created_at": self.now,
            "expires_at": self.now + timedelta(hours=SESSION_HOURS),
        }
        self.sessions.add(session)
        return session_token, session

    # -- sessions ------------------------------------------------------------

    def session(self, session_token: str | None) -> dict | None:
        if not session_token:
            return None
        session = self.sessions.get(digest(session_token))
        if session is None or session["expires_at"] <= self.now:
            return None
        return session

    def end(self, session_token: str | None) -> None:
        if session_token:
            self.sessions.end(digest(session_token))


def csrf_token(secret: str, csrf_cookie: str, session_token: str | None) -> str:
    """The hidden form field that must come back with every POST: bound to the
    browser's CSRF cookie and, once signed in, to its session."""
    material = f"csrf\x1f{csrf_cookie}\x1f{session_token or ''}"
    return hmac.new(secret.encode(), material.encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: str, csrf_cookie: str | None, session_token: str | None, sent: str | None) -> bool:
    if not csrf_cookie or not sent:
        return False
    return hmac.compare_digest(csrf_token(secret, csrf_cookie, session_token), sent)


def safe_next(path: str | None, default: str) -> str:
    """Where to go after signing in: a path on this site only."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return default


class Team:
    """Organisers as people (invited by an organiser; the bootstrap token only
    creates the first), and what an organiser may do to any account: end its
    sessions, revoke it (its tokens and links open nothing from then on)."""

    def __init__(self, organisers, revocations, sessions, now: datetime, api_tokens=None):
        self.organisers = organisers
        self.revocations = revocations
        self.sessions = sessions
        self.api_tokens = api_tokens
        self.now = now

    def invite(self, name: str, email: str, by: str) -> dict:
        organiser = {
            "_id": email.strip().lower(),
            "name": name.strip(),
            "invited_by": by,
            "created_at": self.now,
        }
        if not self.organisers.add(organiser):
            raise AccountExists("Un organisateur est déjà inscrit avec cette adresse.")
        return organiser

    def members(self) -> list[dict]:
        revoked = self.revoked("organiser")
        return [dict(o, revoked=o["_id"] in revoked) for o in self.organisers.all()]

    def organiser(self, email: str) -> dict | None:
        found = self.organisers.get(email.strip().lower())
        if found is None or self.revocations.is_revoked("organiser", found["_id"]):
            return None
        return found

    def name_of(self, subject: str) -> str:
        found = self.organisers.get(subject)
        return f"{found['name']} ({subject})" if found else subject

    def is_revoked(self, role: str, subject: str) -> bool:
        return self.revocations.is_revoked(role, subject)

    def revoked(self, role: str) -> set[str]:
        return self.revocations.subjects(role)

    def end_sessions(self, role: str, subject: str) -> int:
        return self.sessions.end_all(role, subject)

    def revoke(self, role: str, subject: str, by: str) -> int:
        self.revocations.revoke(role, subject, by, self.now)
        return self.sessions.end_all(role, subject)

    # -- personal API tokens (organisers: scripts, labelctl) ---------------------

    def issue_token(self, subject: str, label: str, days: int) -> tuple[str, dict]:
        """A new token for `subject`, valid `days` days: (the token, shown once; its record)."""
        token = PERSONAL_TOKEN_PREFIX + secrets.token_urlsafe(32)
        doc = {
            "_id": digest(token),
            "id": secrets.token_hex(4),
            "role": "organiser",
            "subject": subject,
            "label": label,
            "created_at": self.now,
            "expires_at": self.now + timedelta(days=days),
            "revoked_at": None,
        }
        self.api_tokens.add(doc)
        return token, doc

    def tokens_of(self, subject: str) -> list[dict]:
        return sorted(self.api_tokens.of(subject), key=lambda doc: doc["created_at"], reverse=True)

    def revoke_token(self, subject: str, token_id: str) -> bool:
        return self.api_tokens.revoke(subject, token_id, self.now)

    def principal_of(self, token: str) -> tuple[str, str] | None:
        """(role, subject) of a personal token still valid, else None."""
        doc = self.api_tokens.get(digest(token))
        if doc is None or doc.get("revoked_at") or doc["expires_at"] <= self.now:
            return None
        return doc["role"], doc["subject"]

    def has_organisers(self) -> bool:
        return bool(self.organisers.any())


class AccountExists(Exception):
    pass


PERSONAL_TOKEN_PREFIX = "lvi_"
BOOTSTRAP_SUBJECT = "admin"


def bootstrap_allows(method: str, path: str, organisers_exist: bool, local_mode: bool) -> bool:
    """The bootstrap token (LABEL_ADMIN_TOKEN) only creates the first organiser;
    in local mode (make up, make test, the demo) it stays the scripts' key."""
    if local_mode:
        return True
    return (method, path) == ("POST", "/api/v1/organisers") and not organisers_exist
