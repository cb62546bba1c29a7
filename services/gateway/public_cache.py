"""What anyone may read of a released palmarès, kept a minute per gateway
process.

A released palmarès no longer changes, and at the ceremony a crowd asks for it
many times a second: each read would otherwise cost an RPC to the awards
service and its database reads, competing with the release's own work (the
routes keep the encoded body, so a read costs no encoding either). A national
export is 70 chunk reads, seconds of the awards service's and the database's
time: kept 5 s, it was built again all through the result emails. Only
answers every visitor gets are kept (never an organiser's draft), for
`SECONDS`, and `MAX_BYTES` of bodies at most (a national JSON weighs about
12 MB). A refusal every visitor
gets (a domain error: the embargo, "being published", an unknown year) is an
answer too, kept `ERROR_SECONDS` only: the crowd refreshing before the
ceremony, or during a national release's write-out (a minute), would
otherwise put an RPC and two database reads per request on the awards
service while it writes the release; the palmarès shows at most that late.

A body is kept with its gzip, made once per load in a thread of its own (a
national JSON is about 0.1 s of zlib, during which the gateway's green
threads would all wait otherwise): every browser accepts it, and a national
CSV then weighs a quarter of its bytes, the JSON a tenth (http.body_response).

One caller at a time loads a key (single flight): when an answer is due again,
the crowd keeps getting the one it has while that caller loads the next. Without
it, every visitor arriving in the same instant would load and render the same
page at once, and the gateway's one process would serve them all seconds late."""

from __future__ import annotations

import copy
import gzip
import hashlib
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, NamedTuple

from cachetools import LRUCache
from eventlet import tpool

from services.common.errors import DomainError

SECONDS = 60.0
ERROR_SECONDS = 1.0
# A handful of years × (JSON, CSV, page, figures, up to 18 regions' pages):
# bounded whatever visitors ask for (an unknown region is never kept). Each
# answer weighs its body's bytes and their gzip, MIN_WEIGHT at least: MAX_BYTES / MIN_WEIGHT
# answers at most.
MAX_BYTES = 64 * 2**20
MIN_WEIGHT = 64 * 2**10
GZIP_MIN_BYTES = 1024  # a smaller body goes as it is: its gzip would save less than its headers
GZIP_LEVEL = 6  # zlib's default: level 9 saves a few per cent more for twice the time


class Body(NamedTuple):
    """An answer's bytes; when kept for every visitor, their gzip (if worth
    it) and an ETag (a digest of the bytes)."""

    raw: bytes
    gzipped: bytes | None = None
    etag: str | None = None


def compressed(raw: bytes) -> Body:
    etag = hashlib.blake2b(raw, digest_size=16).hexdigest()
    if len(raw) < GZIP_MIN_BYTES:
        return Body(raw, None, etag)
    # zlib lets go of the GIL: in tpool's thread it leaves the hub serving.
    return Body(raw, tpool.execute(gzip.compress, raw, GZIP_LEVEL, mtime=0), etag)


def weight(entry: tuple[Any, float, DomainError | None]) -> int:
    body = entry[0]
    if isinstance(body, Body):
        size = len(body.raw) + len(body.gzipped or b"")
    else:
        size = len(body) if isinstance(body, bytes | str) else 0
    return max(size, MIN_WEIGHT)


class PublicCache:
    def __init__(
        self,
        seconds: float = SECONDS,
        max_bytes: int = MAX_BYTES,
        timer: Callable[[], float] = time.monotonic,
        error_seconds: float = ERROR_SECONDS,
    ):
        self._seconds = seconds
        self._error_seconds = error_seconds
        self._timer = timer
        # key -> (answer, loaded at, the DomainError raised instead or None)
        self._entries: LRUCache = LRUCache(maxsize=max_bytes, getsizeof=weight)
        self._loading: dict[Hashable, threading.Event] = {}  # keys one caller is loading
        self._lock = threading.Lock()  # green under eventlet: one gateway's workers share it

    def get(self, key: Hashable, load: Callable[[], Any], public: bool) -> Any:
        """`load()`'s answer (or its DomainError, raised again), from the cache
        when `public` (the caller sees what everyone sees) and it was loaded
        recently enough, or when another caller is loading the next one."""
        if not public:
            return load()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and (self._fresh(entry) or key in self._loading):
                return _answer(entry)
            loading = self._loading.get(key)
            if loading is None:
                self._loading[key] = threading.Event()
        if loading is not None:  # nothing kept yet: wait for the caller loading it
            loading.wait()
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None:
                return _answer(entry)
            return load()  # its load failed otherwise (the awards service away): try again
        try:
            try:
                value = load()
            except DomainError as refused:
                with self._lock:
                    self._keep(key, (None, self._timer(), refused))
                raise
            with self._lock:
                self._keep(key, (value, self._timer(), None))
            return value
        finally:
            with self._lock:
                self._loading.pop(key).set()

    def body(self, key: Hashable, load: Callable[[], bytes], public: bool) -> Body:
        """`load()`'s bytes as get() keeps them, with their gzip once kept; a
        caller who is not `public` gets them as loaded (never compressed for one read)."""
        if not public:
            return Body(load())
        return self.get(key, lambda: compressed(load()), public)

    def _keep(self, key: Hashable, entry: tuple[Any, float, DomainError | None]) -> None:
        try:
            self._entries[key] = entry
        except ValueError:  # heavier than MAX_BYTES alone: answered, not kept
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Everything kept forgotten (a release this process saw answered)."""
        with self._lock:
            self._entries.clear()

    def _fresh(self, entry: tuple[Any, float, DomainError | None]) -> bool:
        seconds = self._seconds if entry[2] is None else self._error_seconds
        return self._timer() - entry[1] < seconds


def _answer(entry: tuple[Any, float, DomainError | None]) -> Any:
    if entry[2] is not None:
        # A copy: raising the kept instance again would chain each raise's traceback onto it.
        raise copy.copy(entry[2])
    return entry[0]
