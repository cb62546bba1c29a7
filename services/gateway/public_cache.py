"""What anyone may read of a released palmarès, kept a few seconds per gateway
process.

A released palmarès no longer changes, and at the ceremony a crowd asks for it
many times a second: each read would otherwise cost an RPC to the awards
service and its database reads, competing with the release's own work (the
routes keep the encoded body, so a read costs no encoding either). Only
answers every visitor gets are kept (never an organiser's draft, never an
embargo or "in progress" answer, which are exceptions and pass through), and
only for `SECONDS`, so a correction shows within that time.

One caller at a time loads a key (single flight): when an answer is due again,
the crowd keeps getting the one it has while that caller loads the next. Without
it, every visitor arriving in the same instant would load and render the same
page at once, and the gateway's one process would serve them all seconds late."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import LRUCache

SECONDS = 5.0
# A handful of years × (JSON, CSV, page, figures, up to 18 regions' pages):
# bounded whatever visitors ask for (an unknown region is never kept).
SIZE = 128


class PublicCache:
    def __init__(
        self, seconds: float = SECONDS, size: int = SIZE, timer: Callable[[], float] = time.monotonic
    ):
        self._seconds = seconds
        self._timer = timer
        self._entries: LRUCache = LRUCache(maxsize=size)  # key -> (answer, loaded at)
        self._loading: dict[Hashable, threading.Event] = {}  # keys one caller is loading
        self._lock = threading.Lock()  # green under eventlet: one gateway's workers share it

    def get(self, key: Hashable, load: Callable[[], Any], public: bool) -> Any:
        """`load()`'s answer, from the cache when `public` (the caller sees what
        everyone sees) and it was loaded less than `seconds` ago, or when another
        caller is loading the next one."""
        if not public:
            return load()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (self._timer() - entry[1] < self._seconds or key in self._loading):
                return entry[0]
            loading = self._loading.get(key)
            if loading is None:
                self._loading[key] = threading.Event()
        if loading is not None:  # nothing kept yet: wait for the caller loading it
            loading.wait()
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None:
                return entry[0]
            return load()  # its load raised (an embargo): each caller gets its own answer
        try:
            value = load()
            with self._lock:
                self._entries[key] = (value, self._timer())
            return value
        finally:
            with self._lock:
                self._loading.pop(key).set()
