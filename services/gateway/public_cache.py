"""What anyone may read of a released palmarès, kept a few seconds per gateway
process.

A released palmarès no longer changes, and at the ceremony a crowd asks for it
many times a second: each read would otherwise cost an RPC to the awards
service and its database reads, competing with the release's own work (the
routes keep the encoded body, so a read costs no encoding either). Only
answers every visitor gets are kept (never an organiser's draft, never an
embargo or "in progress" answer, which are exceptions and pass through), and
only for `SECONDS`, so a correction shows within that time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import TTLCache

SECONDS = 5.0
SIZE = 64  # a handful of years × (JSON, CSV, page): bounded whatever visitors ask for


class PublicCache:
    def __init__(self, seconds: float = SECONDS, size: int = SIZE, timer: Callable[[], float] | None = None):
        options = {"timer": timer} if timer is not None else {}
        self._entries: TTLCache = TTLCache(maxsize=size, ttl=seconds, **options)
        self._lock = threading.Lock()  # green under eventlet: one gateway's workers share it

    def get(self, key: Hashable, load: Callable[[], Any], public: bool) -> Any:
        """`load()`'s answer, from the cache when `public` (the caller sees what
        everyone sees) and it was loaded less than `seconds` ago."""
        if not public:
            return load()
        with self._lock:
            if key in self._entries:
                return self._entries[key]
        value = load()  # an embargo or a release in progress raises: nothing kept
        with self._lock:
            self._entries[key] = value
        return value
