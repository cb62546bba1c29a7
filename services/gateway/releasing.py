"""What the API waits a few seconds for, from the awards service's timer.

An organiser's release request: a campaign is usually drafted, decided and
written out within them, so the organiser hears of a refusal (undecided
applications) at once, as a 409, and the palmarès is public when the answer
comes. A national campaign takes longer: the answer is
then `requested` or `releasing`, the outcome read later
(`GET /api/v1/campaigns/{year}/release`, the release page). A release
answered `released` drops this gateway's kept palmarès answers (the embargo
its visitors were refused a moment ago): public here when the answer comes,
in the other gateways within public_cache.ERROR_SECONDS.

The release preview's first count (a tally, services/common/tallies.py): a
small campaign's is made within the wait, a national one's (a whole draft,
about a minute) is not, and the API then answers 503 with Retry-After."""

import time
from collections.abc import Callable
from typing import Any

from services.common.errors import Conflict
from services.gateway.public_cache import PublicCache

RELEASE_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.5
UNDER_WAY = ("requested", "releasing")
DECIDED = ("releasing", "released")  # the ledger step exists: nothing changes it any more
# What every visitor gets of a released palmarès, kept as the bytes sent (routes/awards.py).
public_palmares = PublicCache()


def request_release(
    awards: Any,
    year: int,
    by: str,
    options: dict,
    wait: float = RELEASE_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,  # green under nameko's monkey-patching
) -> dict:
    state = awards.release(year, by, options)
    deadline = time.monotonic() + wait
    while state["state"] in UNDER_WAY and time.monotonic() < deadline:
        sleep(POLL_SECONDS)
        state = awards.release_state(year)
    if state["state"] == "refused":
        raise Conflict(state["refusal"]["message"], state["refusal"]["code"])
    if state["state"] == "released":
        public_palmares.clear()
    return state


def first_count(
    read: Callable[[], dict],
    wait: float = RELEASE_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """A tally read again while it has no first count, for at most `wait` seconds."""
    tally = read()
    deadline = time.monotonic() + wait
    while tally["counts"] is None and time.monotonic() < deadline:
        sleep(POLL_SECONDS)
        tally = read()
    return tally
