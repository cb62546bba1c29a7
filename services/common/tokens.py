"""Bearer tokens: signed (itsdangerous), verifiable without a database lookup.

A token says who (role, subject id), its own id and until when it opens
anything; it is issued by the service that creates the account (submissions
for a collectivité, jury for a juror) with the shared LABEL_SECRET_KEY, and
verified by the gateway, which also refuses a token revoked by its id. A
token is shown once, in the response that issues it: it is never stored, put
in an event or an email.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

ROLES = ("organiser", "collectivite", "juror")
_SALT = "label-bearer-token"


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str
    token_id: str | None = None  # None: not a signed bearer token (bootstrap, personal, session)
    expires_at: datetime | None = None
    issued_ms: int = 0  # when it was issued (ms since the epoch): a reassigned account refuses older ones


class TokenExpired(Exception):
    """A genuine token past its expiry."""


def issue(secret: str, role: str, subject: str, now: datetime, lifetime: timedelta) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    payload = {
        "r": role,
        "s": subject,
        "i": secrets.token_hex(8),
        "t": int(now.timestamp() * 1000),
        "x": int((now + lifetime).timestamp()),
    }
    return URLSafeSerializer(secret, salt=_SALT).dumps(payload)


def verify(secret: str, token: str, now: datetime) -> Principal | None:
    """The Principal a token stands for, or None when it is not ours (nor one
    with an expiry: tokens issued before they had one open nothing).
    TokenExpired when it is ours but past its expiry."""
    try:
        data = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("r") not in ROLES or not isinstance(data.get("s"), str):
        return None
    token_id, expiry = data.get("i"), data.get("x")
    if not isinstance(token_id, str) or not isinstance(expiry, int) or isinstance(expiry, bool):
        return None
    expires_at = datetime.fromtimestamp(expiry, tz=now.tzinfo)
    if expires_at <= now:
        raise TokenExpired(token_id)
    issued = data.get("t")
    return Principal(data["r"], data["s"], token_id, expires_at, issued if isinstance(issued, int) else 0)
