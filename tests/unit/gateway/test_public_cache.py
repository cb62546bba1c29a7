"""The gateway's few seconds of a released palmarès (services/gateway/public_cache.py)."""

import threading

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


def test_one_caller_loads_while_the_others_wait_for_its_answer():
    cache = PublicCache(seconds=5, timer=Clock())
    started, release, loads = threading.Event(), threading.Event(), []

    def slow_load():
        loads.append(1)
        started.set()
        release.wait(5)
        return "palmarès"

    answers = []
    first = threading.Thread(target=lambda: answers.append(cache.get("page", slow_load, public=True)))
    first.start()
    assert started.wait(5)
    others = [
        threading.Thread(target=lambda: answers.append(cache.get("page", slow_load, public=True)))
        for _ in range(10)
    ]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(5)
    assert loads == [1]
    assert answers == ["palmarès"] * 11


def test_the_crowd_gets_the_previous_answer_while_one_caller_loads_the_next():
    clock = Clock()
    cache = PublicCache(seconds=5, timer=clock)
    cache.get("page", lambda: "à 0 s", public=True)
    clock.now = 6.0
    started, release = threading.Event(), threading.Event()

    def slow_load():
        started.set()
        release.wait(5)
        return "à 6 s"

    refresher = threading.Thread(target=cache.get, args=("page", slow_load, True))
    refresher.start()
    assert started.wait(5)
    assert cache.get("page", lambda: pytest.fail("a second load"), public=True) == "à 0 s"
    release.set()
    refresher.join(5)
    assert cache.get("page", lambda: pytest.fail("a third load"), public=True) == "à 6 s"


def test_when_the_load_fails_each_waiting_caller_gets_its_own_answer():
    cache = PublicCache(seconds=5, timer=Clock())
    started, release = threading.Event(), threading.Event()

    def embargoed():
        started.set()
        release.wait(5)
        raise Conflict("Le palmarès 2017 n'est pas encore publié.", "results_embargoed")

    outcomes = []

    def first():
        try:
            cache.get("page", embargoed, public=True)
        except Conflict:
            outcomes.append("embargo")

    loader = threading.Thread(target=first)
    loader.start()
    assert started.wait(5)
    waiter = threading.Thread(
        target=lambda: outcomes.append(cache.get("page", lambda: "publié", public=True))
    )
    waiter.start()
    release.set()
    loader.join(5)
    waiter.join(5)
    assert sorted(outcomes) == ["embargo", "publié"]
