"""The organisers' counts (services/common/tallies.py): the first count made by
the timer; exact while counting is cheap; a dear count served from its tally,
recounted by the timer when asked."""

from datetime import UTC, datetime, timedelta

from services.common import tallies
from services.common.tallies import Freshness, Tallies, freshness
from tests.unit.fakes import memory_database

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


class Counter:
    """Counts by state, taking `cost` seconds of a fake monotonic clock."""

    def __init__(self, cost):
        self.cost, self.elapsed, self.calls, self.state = cost, 0.0, [], {"draft": 1}

    def clock(self):
        return self.elapsed

    def __call__(self, year, kind=None):
        self.calls.append((year, kind))
        self.elapsed += self.cost
        return dict(self.state)


def tally(seconds, age):
    return {"counts": {}, "seconds": seconds, "counted_at": NOW - timedelta(seconds=age)}


def counted_first(store, what, counter):
    """A page's first read, then the timer's first count."""
    first = tallies.read(store, what, counter, NOW, counter.clock)
    assert first == {"counts": None, "counted_at": None, "recounting": True}
    assert tallies.refresh_asked(store, counter, NOW, counter.clock) == 1


def test_freshness_counts_cheap_tallies_again_and_dear_ones_by_their_cost():
    assert freshness(None, NOW) is Freshness.FIRST
    assert freshness({"counts": None, "asked": True}, NOW) is Freshness.FIRST  # the placeholder
    assert freshness(tally(0.01, 0), NOW) is Freshness.COUNT
    assert freshness(tally(0.01, 299), NOW) is Freshness.COUNT
    assert freshness(tally(0.01, 301), NOW) is Freshness.ASK  # cheap once, maybe not now
    assert freshness(tally(0.5, 9), NOW) is Freshness.SERVE  # under the minimum age
    assert freshness(tally(0.5, 11), NOW) is Freshness.ASK
    assert freshness(tally(3.0, 29), NOW) is Freshness.SERVE  # under 10 × its cost
    assert freshness(tally(3.0, 31), NOW) is Freshness.ASK


def test_the_first_count_is_left_to_the_timer_and_made_once():
    store, counter = Tallies(memory_database()), Counter(cost=30.0)
    for _ in range(3):  # pages read while the first count is on its way
        pending = tallies.read(store, [2027], counter, NOW, counter.clock)
        assert pending == {"counts": None, "counted_at": None, "recounting": True}
    assert counter.calls == []
    assert tallies.refresh_asked(store, counter, NOW, counter.clock) == 1
    assert tallies.read(store, [2027], counter, NOW, counter.clock)["counts"] == {"draft": 1}
    assert counter.calls == [(2027, None)]


def test_a_cheap_count_is_made_at_every_read():
    store, counter = Tallies(memory_database()), Counter(cost=0.001)
    counted_first(store, [2027], counter)
    counter.state = {"draft": 1, "submitted": 1}
    second = tallies.read(store, [2027], counter, NOW + timedelta(seconds=1), counter.clock)
    assert second == {
        "counts": {"draft": 1, "submitted": 1},
        "counted_at": (NOW + timedelta(seconds=1)).isoformat(),
        "recounting": False,
    }
    assert len(counter.calls) == 2


def test_a_dear_count_is_served_then_asked_for_then_recounted_by_the_timer():
    store, counter = Tallies(memory_database()), Counter(cost=2.0)
    counted_first(store, [2027, "result"], counter)
    counter.state = {"sent": 5}
    served = tallies.read(store, [2027, "result"], counter, NOW + timedelta(seconds=15), counter.clock)
    assert served["counts"] == {"draft": 1} and served["recounting"] is False
    assert tallies.refresh_asked(store, counter, NOW, counter.clock) == 0  # nothing asked yet

    later = NOW + timedelta(seconds=25)  # older than 10 × 2 s
    stale = tallies.read(store, [2027, "result"], counter, later, counter.clock)
    assert stale == {"counts": {"draft": 1}, "counted_at": NOW.isoformat(), "recounting": True}
    assert counter.calls == [(2027, "result")]  # the pages were not held by a count

    assert tallies.refresh_asked(store, counter, later, counter.clock) == 1
    assert counter.calls == [(2027, "result"), (2027, "result")]
    fresh = tallies.read(store, [2027, "result"], counter, later, counter.clock)
    assert fresh == {"counts": {"sent": 5}, "counted_at": later.isoformat(), "recounting": False}
    assert tallies.refresh_asked(store, counter, later, counter.clock) == 0  # asked once, counted once


def test_each_key_has_its_own_tally():
    store, counter = Tallies(memory_database()), Counter(cost=2.0)
    for what in ([2027], [2027, "result"], [2028]):
        tallies.read(store, what, counter, NOW, counter.clock)
    assert tallies.refresh_asked(store, counter, NOW, counter.clock) == 3
    assert counter.calls == [(2027, None), (2027, "result"), (2028, None)]
    assert sorted(doc["_id"] for doc in store.collection.find({})) == ["2027", "2027:result", "2028"]
