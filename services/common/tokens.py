"""Bearer tokens: signed (itsdangerous), verifiable without a database lookup.

A token says who (role, subject id); it is issued by the service that creates
the account (submissions for a collectivité, jury for a juror) with the shared
LABEL_SECRET_KEY, and verified by the gateway.
"""

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

ROLES = ("organiser", "collectivite", "juror")
_SALT = "label-bearer-token"


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str


def issue(secret: str, role: str, subject: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    return URLSafeSerializer(secret, salt=_SALT).dumps({"r": role, "s": subject})


def verify(secret: str, token: str) -> Principal | None:
    """The Principal a token stands for, or None when it is not ours."""
    try:
        data = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("r") not in ROLES or not isinstance(data.get("s"), str):
        return None
    return Principal(data["r"], data["s"])
