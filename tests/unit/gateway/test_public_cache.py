"""The gateway's minute of a released palmarès (services/gateway/public_cache.py)."""

import gzip
import threading

import pytest

from services.common.errors import Conflict
from services.gateway.public_cache import MIN_WEIGHT, PublicCache, compressed, weight


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


def embargoed():
    raise Conflict("Le palmarès 2017 n'est pas encore publié.", "results_embargoed")


def test_an_embargo_is_kept_its_error_seconds_only():
    clock, loads = Clock(), []
    cache = PublicCache(seconds=5, error_seconds=1, timer=clock)

    def load():
        loads.append(clock.now)
        embargoed()

    for now in (0.0, 0.9):
        clock.now = now
        with pytest.raises(Conflict) as refused:
            cache.get(("json", 2017), load, public=True)
        assert refused.value.code == "results_embargoed"
    assert loads == [0.0]
    clock.now = 1.1
    assert cache.get(("json", 2017), lambda: "released", public=True) == "released"


def test_a_kept_refusal_is_raised_afresh_each_time():
    cache = PublicCache(seconds=5, timer=Clock())
    raised = []
    for _ in range(3):
        with pytest.raises(Conflict) as refused:
            cache.get("page", embargoed, public=True)
        raised.append(refused.value)
    assert len({id(error) for error in raised}) == 3
    assert [error.message for error in raised] == ["Le palmarès 2017 n'est pas encore publié."] * 3


def test_a_failure_that_is_no_answer_is_never_kept():
    cache = PublicCache(seconds=5, timer=Clock())

    def away():
        raise TimeoutError("the awards service did not answer")

    with pytest.raises(TimeoutError):
        cache.get("page", away, public=True)
    assert cache.get("page", lambda: "released", public=True) == "released"


def test_the_cache_is_bounded_whatever_years_visitors_ask_for():
    cache = PublicCache(seconds=5, max_bytes=3 * MIN_WEIGHT, timer=Clock())
    for year in range(2000, 2100):
        cache.get(("json", year), lambda year=year: year, public=True)
    assert len(cache._entries) == 3


def test_a_body_weighs_its_bytes_and_one_too_heavy_is_answered_not_kept():
    cache = PublicCache(seconds=5, max_bytes=4 * MIN_WEIGHT, timer=Clock())
    loads = []

    def load(size):
        loads.append(size)
        return b"x" * size

    cache.get("csv", lambda: load(3 * MIN_WEIGHT), public=True)
    cache.get("page", lambda: load(10), public=True)  # weighs MIN_WEIGHT: both kept
    assert set(cache._entries) == {"csv", "page"}
    cache.get("json", lambda: load(2 * MIN_WEIGHT), public=True)  # the least recent goes
    assert set(cache._entries) == {"page", "json"}
    assert len(cache.get("big", lambda: load(5 * MIN_WEIGHT), public=True)) == 5 * MIN_WEIGHT
    assert len(cache.get("big", lambda: load(5 * MIN_WEIGHT), public=True)) == 5 * MIN_WEIGHT
    assert loads.count(5 * MIN_WEIGHT) == 2 and "big" not in cache._entries


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


def test_the_callers_waiting_for_a_refused_load_get_that_refusal():
    cache = PublicCache(seconds=5, timer=Clock())
    started, release = threading.Event(), threading.Event()

    def slow_embargo():
        started.set()
        release.wait(5)
        embargoed()

    outcomes = []

    def read(load):
        try:
            outcomes.append(cache.get("page", load, public=True))
        except Conflict as refused:
            outcomes.append(refused.code)

    loader = threading.Thread(target=read, args=(slow_embargo,))
    loader.start()
    assert started.wait(5)
    waiters = [threading.Thread(target=read, args=(lambda: pytest.fail("a second load"),)) for _ in range(5)]
    for waiter in waiters:
        waiter.start()
    release.set()
    for thread in [loader, *waiters]:
        thread.join(5)
    assert outcomes == ["results_embargoed"] * 6


def test_the_callers_waiting_for_a_load_that_failed_load_again():
    cache = PublicCache(seconds=5, timer=Clock())
    started, release = threading.Event(), threading.Event()

    def slow_failure():
        started.set()
        release.wait(5)
        raise TimeoutError("the awards service did not answer")

    outcomes = []

    def first():
        try:
            cache.get("page", slow_failure, public=True)
        except TimeoutError:
            outcomes.append("timeout")

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
    assert sorted(outcomes) == ["publié", "timeout"]


def test_a_kept_body_is_compressed_once_per_load_and_a_readers_draft_never():
    clock, loads = Clock(), []
    cache = PublicCache(seconds=5, timer=clock)
    csv_text = "Commune;Région;Arobases\r\n" + "Biscarrosse;Nouvelle-Aquitaine;4\r\n" * 500

    def load():
        loads.append(clock.now)
        return csv_text.encode()

    first = cache.body(("csv", 2017), load, public=True)
    assert first.raw == csv_text.encode()
    assert gzip.decompress(first.gzipped) == first.raw and len(first.gzipped) < len(first.raw) / 10
    assert cache.body(("csv", 2017), load, public=True) is first  # not compressed again
    draft = cache.body(("csv", 2017), load, public=False)
    assert draft.raw == first.raw and draft.gzipped is None and draft.etag is None
    assert loads == [0.0, 0.0]


def test_a_small_body_is_kept_as_it_is_with_the_digest_of_its_bytes():
    cache = PublicCache(seconds=5, timer=Clock())
    kept = cache.body(("page", 2017), lambda: b"<p>Rien</p>", public=True)
    assert (kept.raw, kept.gzipped) == (b"<p>Rien</p>", None) and len(kept.etag) == 32
    assert compressed(b"<p>Rien</p>").etag == kept.etag != compressed(b"<p>Rien.</p>").etag


def test_a_body_weighs_its_bytes_and_their_gzip():
    raw = bytes(range(256)) * 1024  # 256 KiB that hardly compress
    body = compressed(raw)
    assert weight((body, 0.0, None)) == len(raw) + len(body.gzipped) > 2 * MIN_WEIGHT
