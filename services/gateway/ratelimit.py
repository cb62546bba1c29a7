"""Rate limits of the mail-sending endpoints: a fixed-window counter per
client address and per recipient, in plain Python.

FerretDB v1 applies `$inc` as read-then-write, so a counter is not one
document: each request of a window takes a numbered slot, a uniquely keyed
insert (`<scope>:<key digest>:<window>:<n>`, ARCHITECTURE.md "ledger"). The
n-th request of a window wins slot n; when slot `limit` is taken the window
is full. Keys are digests: the collection holds no address. Slots carry
`expires_at` (the window's end) and a timer deletes the old ones.
"""

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Limits:
    window_seconds: int
    per_client: int
    per_recipient: int

    @classmethod
    def from_config(cls, config) -> "Limits":
        return cls(
            window_seconds=int(config["RATE_LIMIT_WINDOW_SECONDS"]),
            per_client=int(config["RATE_LIMIT_PER_CLIENT"]),
            per_recipient=int(config["RATE_LIMIT_PER_RECIPIENT"]),
        )


class RateLimited(Exception):
    """Too many requests: `retry_after` seconds until the window ends."""

    def __init__(self, scope: str, retry_after: int):
        super().__init__(f"{scope} rate limit reached")
        self.scope = scope
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        origin = (
            "depuis votre adresse réseau" if self.scope == "client" else "pour cette adresse électronique"
        )
        plural = "s" if minutes > 1 else ""
        return (
            f"Trop de demandes d'envoi de courriel en peu de temps {origin} : "
            f"réessayez dans {minutes} minute{plural}."
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.strip().lower().encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(self, slots, limits: Limits, now: datetime):
        self.slots = slots  # repository: take(slot_id, expires_at) -> bool, taken(slot_id) -> bool
        self.limits = limits
        self.now = now

    def hit(self, scope: str, key: str, limit: int) -> None:
        """Count one request of `key`; RateLimited when its window is full."""
        if limit <= 0:
            return  # 0: that limit is off
        window = self.limits.window_seconds
        index = int(self.now.timestamp()) // window
        end = datetime.fromtimestamp((index + 1) * window, tz=self.now.tzinfo)
        prefix = f"{scope}:{_digest(key)}:{index}:"
        retry_after = max(1, math.ceil((end - self.now) / timedelta(seconds=1)))
        if self.slots.taken(prefix + str(limit)):  # full: one lookup
            raise RateLimited(scope, retry_after)
        # Slots fill from 1 upwards without gaps: find the first free one by bisection.
        low, high = 1, limit
        while low < high:
            middle = (low + high) // 2
            if self.slots.taken(prefix + str(middle)):
                low = middle + 1
            else:
                high = middle
        for n in range(low, limit + 1):  # a concurrent request may win slot n first
            if self.slots.take(prefix + str(n), end):
                return
        raise RateLimited(scope, retry_after)

    def check(self, client: str | None, recipient: str | None, trusted: bool = False) -> None:
        """A mail-sending request: per recipient always; per client address
        unless `trusted` (an organiser: imports create hundreds of accounts)."""
        if client and not trusted:
            self.hit("client", client, self.limits.per_client)
        if recipient:
            self.hit("recipient", recipient, self.limits.per_recipient)
