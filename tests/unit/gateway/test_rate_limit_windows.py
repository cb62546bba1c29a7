"""The mail-sending rate limiter (services/gateway/ratelimit.py) over the real
repository on an in-memory database."""

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.ratelimit import Limits, RateLimited, RateLimiter
from services.gateway.repository import RATE_SLOTS, RateSlots
from tests.unit.fakes import memory_database

NOON = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
LIMITS = Limits(window_seconds=3600, per_client=3, per_recipient=2)


def limiter(db, now=NOON, limits=LIMITS):
    return RateLimiter(RateSlots(db), limits, now)


def test_the_recipient_limit_refuses_the_third_request_with_the_window_s_remaining_seconds():
    db = memory_database()
    limiter(db).check("10.0.0.1", "maire@exemple.fr")
    limiter(db).check("10.0.0.2", "Maire@Exemple.fr ")  # the same address, other case
    with pytest.raises(RateLimited) as refused:
        limiter(db, NOON + timedelta(minutes=20)).check("10.0.0.3", "maire@exemple.fr")
    assert refused.value.scope == "recipient"
    assert refused.value.retry_after == 40 * 60
    assert "dans 40 minutes" in refused.value.message
    assert "pour cette adresse électronique" in refused.value.message


def test_the_client_limit_counts_every_address_and_a_new_window_starts_afresh():
    db = memory_database()
    for n in range(3):
        limiter(db).check("10.0.0.1", f"m{n}@exemple.fr")
    with pytest.raises(RateLimited) as refused:
        limiter(db).check("10.0.0.1", "autre@exemple.fr")
    assert refused.value.scope == "client"
    assert "depuis votre adresse réseau" in refused.value.message
    limiter(db).check("10.0.0.9", "autre@exemple.fr")  # another client is not held back
    limiter(db, NOON + timedelta(hours=1)).check("10.0.0.1", "encore@exemple.fr")


def test_a_trusted_request_skips_the_client_limit_not_the_recipient_one():
    db = memory_database()
    for n in range(10):
        limiter(db).check("10.0.0.1", f"j{n}@exemple.fr", trusted=True)
    limiter(db).check("10.0.0.1", "j0@exemple.fr", trusted=True)
    with pytest.raises(RateLimited):
        limiter(db).check("10.0.0.1", "j0@exemple.fr", trusted=True)


def test_a_zero_limit_is_off():
    db = memory_database()
    off = Limits(window_seconds=60, per_client=0, per_recipient=0)
    for _ in range(20):
        limiter(db, limits=off).check("10.0.0.1", "a@exemple.fr")
    assert db[RATE_SLOTS].count_documents({}) == 0


def test_slots_hold_no_address_and_old_windows_are_purged():
    db = memory_database()
    limiter(db).check("10.0.0.1", "maire@exemple.fr")
    ids = " ".join(doc["_id"] for doc in db[RATE_SLOTS].find({}))
    assert "maire" not in ids and "10.0.0.1" not in ids
    assert RateSlots(db).purge(NOON + timedelta(minutes=59)) == 0
    assert RateSlots(db).purge(NOON + timedelta(hours=1)) == 2
    assert db[RATE_SLOTS].count_documents({}) == 0


def test_with_a_large_limit_a_request_costs_a_few_lookups_not_one_per_earlier_request():
    class Counting(RateSlots):
        calls = 0

        def taken(self, slot_id):
            Counting.calls += 1
            return super().taken(slot_id)

    db = memory_database()
    limits = Limits(window_seconds=3600, per_client=100000, per_recipient=0)
    for _ in range(200):
        RateLimiter(Counting(db), limits, NOON).check("10.0.0.1", None)
    Counting.calls = 0
    RateLimiter(Counting(db), limits, NOON).check("10.0.0.1", None)
    assert Counting.calls <= 18
    assert db[RATE_SLOTS].count_documents({}) == 201
