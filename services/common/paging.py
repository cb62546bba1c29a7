"""Cursor pagination of the API's lists: page sizes written once, the opaque
cursor (the sort key of a page's last item, base64url JSON), and one page of
a list."""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 512
UNKNOWN_CURSOR = "ce jeton de page n'a pas été donné par l'API."

Key = list[Any]


def encode_cursor(key: Key) -> str:
    raw = json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class BadPage(ValueError):
    """A `limit` or `cursor` the API refuses (the gateway answers 400 naming `field`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"Paramètre « {field} » invalide : {reason}")
        self.field, self.reason = field, reason


def bad(field: str, reason: str) -> BadPage:
    return BadPage(field, reason)


def decode_cursor(text: str) -> Key:
    """The key a cursor carries; BadPage naming `cursor` when it is not one of ours."""
    reason = UNKNOWN_CURSOR
    if len(text) > MAX_CURSOR_LENGTH:
        raise bad("cursor", reason)
    try:
        key = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad("cursor", reason) from None
    if not isinstance(key, list) or not key or not all(isinstance(part, str | int) for part in key):
        raise bad("cursor", reason)
    return key


def parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    reason = f"un nombre entier de 1 à {MAX_LIMIT} est attendu."
    if not text.isdigit() or len(text) > 6:
        raise bad("limit", reason)
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise bad("limit", reason)
    return value


def page(
    items: Sequence[Any], key: Callable[[Any], Key], limit: int, after: Key | None, descending: bool = False
) -> tuple[list[Any], Key | None]:
    """Items sorted by `key` (unique), those after `after`, at most `limit`;
    and the key of the last one when more follow."""
    ordered = sorted(items, key=key, reverse=descending)
    if after is not None:
        try:
            ordered = [item for item in ordered if (key(item) < after if descending else key(item) > after)]
        except TypeError:  # a cursor of another list
            raise bad("cursor", UNKNOWN_CURSOR) from None
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return chunk, (key(chunk[-1]) if more and chunk else None)
