"""The gateway's few seconds of a released palmarès (services/gateway/public_cache.py)."""

import pytest

from services.common.errors import Conflict
from services.gateway.public_cache import PublicCache


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_public_answer_is_loaded_once_within_its_seconds_then_again():
    clock, loads = Clock(), []
    cache = PublicCache(seconds=5, timer=clock)

    def load():
        loads.append(clock.now)
        return {"year": 2017, "loaded_at": clock.now}

    assert cache.get(("json", 2017), load, public=True) == {"year": 2017, "loaded_at": 0.0}
    clock.now = 4.9
    assert cache.get(("json", 2017), load, public=True)["loaded_at"] == 0.0
    clock.now = 5.1
    assert cache.get(("json", 2017), load, public=True)["loaded_at"] == 5.1
    assert loads == [0.0, 5.1]


def test_an_organisers_read_neither_uses_nor_fills_the_cache():
    cache = PublicCache(seconds=5, timer=Clock())
    cache.get(("json", 2017), lambda: "public", public=True)
    assert cache.get(("json", 2017), lambda: "draft", public=False) == "draft"
    assert cache.get(("json", 2018), lambda: "draft", public=False) == "draft"
    assert cache.get(("json", 2018), lambda: "public 2018", public=True) == "public 2018"


def test_an_embargo_is_never_kept():
    cache = PublicCache(seconds=5, timer=Clock())

    def embargoed():
        raise Conflict("Le palmarès 2017 n'est pas encore publié.", "results_embargoed")

    with pytest.raises(Conflict):
        cache.get(("json", 2017), embargoed, public=True)
    assert cache.get(("json", 2017), lambda: "released", public=True) == "released"


def test_the_cache_is_bounded_whatever_years_visitors_ask_for():
    cache = PublicCache(seconds=5, size=3, timer=Clock())
    for year in range(2000, 2100):
        cache.get(("json", year), lambda year=year: year, public=True)
    assert len(cache._entries) == 3
