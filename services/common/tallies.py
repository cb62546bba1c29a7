"""Counts for the organisers' pages, kept per key in the counting service's
`tallies` collection: exact when counting is cheap, recent when it is not.

A count (a campaign's applications by state, its reviews, its emails) reads
every document it counts, and FerretDB decodes each whole, so at national
scale one count takes seconds (17 s for a campaign of 3,500 collectivités,
the gateway's RPC would time out at 35,000). So a page never waits for a
count it does not know to be cheap:
- a key never counted gets a placeholder, marked `asked`, and the page says
  that the first count is on its way (`counts` is None);
- a count that took under CHEAP_SECONDS less than CHEAP_HORIZON_SECONDS ago
  is made again at every read: exact while counting stays cheap, and a set
  cannot grow from cheap to dear unseen for long;
- any other tally is served while it is younger than COST_FACTOR times what
  it cost (and at least MIN_AGE_SECONDS); an older one is served as it is,
  marked `asked`.
The service's timer (`refresh_asked`, every REFRESH_SECONDS) counts the
asked keys, so recounting takes at most about 1/COST_FACTOR of one core
while a page is watched.

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
CHEAP_HORIZON_SECONDS = 300
COST_FACTOR = 10
MIN_AGE_SECONDS = 10.0
REFRESH_SECONDS = 5
ASKED_PER_REFRESH = 20  # keys recounted by one timer run (there are a few per campaign)

What = list[int | str]  # what is counted: the counter's arguments (a year, a kind), joined as the key


class Freshness(Enum):
    FIRST = "first"  # never counted: the timer makes the first count
    COUNT = "count"  # a cheap count, made lately: count now
    SERVE = "serve"  # the tally is recent enough
    ASK = "ask"  # serve the tally and have the timer count again


def freshness(tally: Doc | None, now: datetime) -> Freshness:
    if tally is None or tally.get("counts") is None:
        return Freshness.FIRST
    age = (now - as_utc(tally["counted_at"])).total_seconds()
    if tally["seconds"] < CHEAP_SECONDS and age < CHEAP_HORIZON_SECONDS:
        return Freshness.COUNT
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

    def ask(self, key: str, what: What) -> None:
        # A key never counted is created here: its placeholder has no counts.
        self.collection.update_one(
            {"_id": key},
            {"$set": {"asked": True}, "$setOnInsert": {"what": what, "counts": None}},
            upsert=True,
        )

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
    """`counter(*what)` as a page shows it: {"counts" (None until the first
    count), "counted_at" (ISO, or None), "recounting": a newer count is on
    its way}."""
    key = ":".join(str(part) for part in what)
    tally = tallies.get(key)
    decision = freshness(tally, now)
    if decision is Freshness.COUNT:
        tally = _count(tallies, key, what, counter, now, clock)
    elif decision is Freshness.FIRST:
        if tally is None:  # else the placeholder is asked already
            tallies.ask(key, what)
        return {"counts": None, "counted_at": None, "recounting": True}
    elif decision is Freshness.ASK:
        tallies.ask(key, what)
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
