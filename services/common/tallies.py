"""Counts for the organisers' pages, kept per key in the counting service's
`tallies` collection: exact when counting is cheap, recent when it is not.

A count (a campaign's applications by state, its reviews, its emails) reads
every document it counts, and FerretDB decodes each whole, so at national
scale one count takes seconds. A count that took under CHEAP_SECONDS is made
again at every read. A dearer one is served from its tally while the tally
is younger than COST_FACTOR times what it cost (and at least
MIN_AGE_SECONDS); an older one is served as it is, marked `asked`, and
counted again by the service's timer (`refresh_asked`, every
REFRESH_SECONDS). A page is never held by a dear count after the first, and
recounting takes at most about 1/COST_FACTOR of one core while a page is
watched. Only the first count of a key is made while a page waits.

Tallies are plain upserts: two replicas recounting the same key at once both
write a true count, and the later one stays.
"""

import time
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

from services.common.clock import as_utc, isoformat
from services.common.types import Doc

if TYPE_CHECKING:  # the use cases that read tallies know nothing of pymongo
    from pymongo.database import Database

TALLIES = "tallies"
CHEAP_SECONDS = 0.05
COST_FACTOR = 10
MIN_AGE_SECONDS = 10.0
REFRESH_SECONDS = 5
ASKED_PER_REFRESH = 20  # keys recounted by one timer run (there are a few per campaign)

What = list[int | str]  # what is counted: the counter's arguments (a year, a kind), joined as the key


class Freshness(Enum):
    COUNT = "count"  # no tally, or a cheap one: count now
    SERVE = "serve"  # the tally is recent enough
    ASK = "ask"  # serve the tally and have the timer count again


def freshness(tally: Doc | None, now: datetime) -> Freshness:
    if tally is None or tally["seconds"] < CHEAP_SECONDS:
        return Freshness.COUNT
    age = (now - as_utc(tally["counted_at"])).total_seconds()
    if age < max(MIN_AGE_SECONDS, COST_FACTOR * tally["seconds"]):
        return Freshness.SERVE
    return Freshness.ASK


class Tallies:
    """The `tallies` collection: one small document per counted key."""

    def __init__(self, db: "Database[Doc]") -> None:
        self.collection = db[TALLIES]

    def get(self, key: str) -> Doc | None:
        return self.collection.find_one({"_id": key})

    def store(self, key: str, what: What, counts: Doc, counted_at: datetime, seconds: float) -> Doc:
        fields = {"what": what, "counts": counts, "counted_at": counted_at, "seconds": seconds}
        fields["asked"] = False  # a page's ask is answered by this count
        self.collection.update_one({"_id": key}, {"$set": fields}, upsert=True)
        return {"_id": key} | fields

    def ask(self, key: str) -> None:
        self.collection.update_one({"_id": key}, {"$set": {"asked": True}})

    def asked(self) -> list[Doc]:
        return list(self.collection.find({"asked": True}).limit(ASKED_PER_REFRESH))


Counter = Callable[..., Doc]  # counter(*what)


def _count(
    tallies: Tallies, key: str, what: What, counter: Counter, now: datetime, clock: Callable[[], float]
) -> Doc:
    started = clock()
    counts = counter(*what)
    return tallies.store(key, what, counts, now, round(clock() - started, 4))


def read(
    tallies: Tallies,
    what: What,
    counter: Counter,
    now: datetime,
    clock: Callable[[], float] = time.monotonic,
) -> Doc:
    """`counter(*what)` as a page shows it: {"counts", "counted_at" (ISO),
    "recounting": a newer count is on its way}."""
    key = ":".join(str(part) for part in what)
    tally = tallies.get(key)
    decision = freshness(tally, now)
    if decision is Freshness.COUNT:
        tally = _count(tallies, key, what, counter, now, clock)
    elif decision is Freshness.ASK:
        tallies.ask(key)
    assert tally is not None
    return {
        "counts": tally["counts"],
        "counted_at": isoformat(tally["counted_at"]),
        "recounting": decision is Freshness.ASK,
    }


def refresh_asked(
    tallies: Tallies, counter: Counter, now: datetime, clock: Callable[[], float] = time.monotonic
) -> int:
    """Count again the keys a page asked for (the service's timer); how many."""
    asked = tallies.asked()
    for tally in asked:
        _count(tallies, tally["_id"], tally["what"], counter, now, clock)
    return len(asked)
