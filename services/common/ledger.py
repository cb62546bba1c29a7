"""Versioned writes whose events can never diverge from the state change.

FerretDB v1 applies conditional updates as a read followed by a write-back, so
two concurrent updates can both "win". The one atomic primitive we rely on is
an insert with a unique `_id`. A change to a document is therefore:

1. insert `changes/{_id: "<collection>:<doc id>:<new version>"}` holding the
   fields to set and the events owed: the insert that succeeds decides, a
   duplicate key means another writer got there first (`Conflict`);
2. apply it to the document: a plain update keyed on the previous version;
   applying it twice changes nothing, so a crash between 1 and 2 is repaired
   by rolling forward (the relay's sweep, or the next writer);
3. the relay publishes the change's events, then deletes its marker (a
   change with no events: once applied).

A document created with no event is only its own insert: the unique `_id`
decides, and there is nothing to publish or roll forward (no change, no
marker: three writes fewer for each review task, draft or decision).

Unpublished changes are found through `outbox_pending`, a small collection of
markers inserted just before step 1 and deleted once published: the marker
is the only record of "not published yet" (one write fewer per change than a
flag on the change, which FerretDB applies as a read and a rewrite of the
whole change). The relay's sweep reads the markers instead of scanning every
change ever made (on FerretDB's SQLite storage any filter other than `_id`
scans the collection). A writer refused by the unique `_id` may have put the
marker back after the winner deleted it: the sweep then publishes the change
a second time, with the same event ids, which consumers drop. The markers of
a `record_many` share a `batch`, so one delete removes them together.

An exclusive step with no document (a release, an email sent) is
`record(key)`: the change `steps:<key>:1` (`step_id`), read back with
`find_step`; nothing outside this module spells that key.

Event ids are `<change id>:<n>`: a re-publish carries the same id, which
consumers drop (inbox.py).

This docstring is where the protocol is described (ARCHITECTURE.md points here).
"""

import logging
import os
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.common.clock import as_utc, isoformat, utcnow
from services.common.contracts import Event, check_payload
from services.common.errors import Conflict
from services.common.mongo import delete_ids
from services.common.types import Doc

log = logging.getLogger(__name__)

CHANGES = "changes"
PENDING = "outbox_pending"
STEPS = "steps"  # the pseudo-collection of `record`: exclusive steps with no document
# A marker whose change never came (lost race, or a crash between the two
# inserts) is dropped after this long.
ORPHAN_MARKER_AGE = timedelta(seconds=60)

# What a change carries: (event, payload without its envelope fields).
Events = Iterable[tuple[Event, Doc]]


def ensure_ledger_indexes(db: Database[Doc]) -> None:
    db[PENDING].create_index([("created_at", ASCENDING)])
    db[PENDING].create_index([("batch", ASCENDING)])


def _conflict(conflict: Conflict | None) -> Conflict:
    return conflict or Conflict(
        "Ce document vient d'être modifié par ailleurs ; rechargez-le et réessayez.", "concurrent_change"
    )


def change_id(collection: str, doc_id: object, version: int) -> str:
    """The `_id` of the change that takes `doc_id` of `collection` to `version`."""
    return f"{collection}:{doc_id}:{version}"


def step_id(key: str) -> str:
    """The `_id` of the change `Ledger.record(key, ...)` inserts."""
    return change_id(STEPS, key, 1)


def find_step(db: Database[Doc], key: str) -> Doc | None:
    """The change that decided the step `key` (`Ledger.record`), None while undecided."""
    return db[CHANGES].find_one({"_id": step_id(key)})


class Ledger:
    def __init__(self, db: Database[Doc], crash_after_decide: str | None = None) -> None:
        self.db = db
        self.changes = db[CHANGES]
        self.markers = db[PENDING]
        # Fault injection for the crash tests only (config FAULT_CRASH_AFTER_DECIDE):
        # the process dies right after deciding a change that carries this event,
        # before applying or publishing it.
        self.crash_after_decide = crash_after_decide

    # -- writing --------------------------------------------------------

    def create(
        self, collection: str, doc: Doc, events: Events = (), conflict: Conflict | None = None
    ) -> tuple[Doc, Doc | None]:
        """Insert `doc` (with its `_id`) as version 1; returns (doc, change). A
        create with no event is the document's own insert, and no change: its
        unique `_id` decides, and nothing is left to publish or roll forward."""
        doc = dict(doc, version=1)
        events = list(events)
        if not events:
            try:
                self.db[collection].insert_one(doc)
            except DuplicateKeyError:
                raise _conflict(conflict) from None
            return doc, None
        change = self._decide(collection, doc["_id"], 1, {"insert": doc}, events, conflict)
        self.apply(change)
        return doc, change

    def create_many(self, collection: str, docs: list[Doc]) -> tuple[list[Doc], list[str]]:
        """`create` with no event for many documents: one unordered insert_many,
        each `_id` deciding alone. Returns (the docs inserted here, the ids
        another writer had inserted first)."""
        docs = [dict(doc, version=1) for doc in docs]
        existed = insert_new(self.db[collection], docs)
        return [doc for n, doc in enumerate(docs) if n not in existed], [
            docs[n]["_id"] for n in sorted(existed)
        ]

    def update(
        self,
        collection: str,
        current: Doc,
        fields: Doc,
        events: Events = (),
        conflict: Conflict | None = None,
    ) -> tuple[Doc, Doc]:
        """Set `fields` on `current` (a document read with its version); returns (doc, change)."""
        version = current["version"] + 1
        change = self._decide(collection, current["_id"], version, {"set": fields}, events, conflict)
        self.apply(change)
        return dict(current, **fields, version=version), change

    def record(
        self, key: str, events: Events, conflict: Conflict | None = None, independent: bool = False
    ) -> Doc:
        """An exclusive step with no document to change (a release, say): the
        uniquely keyed change alone decides, and carries the events.
        `independent`: no event depends on another's going out first (a
        release batch, one award per collectivité), so they may go out at once."""
        return self._decide(STEPS, key, 1, {"independent": True} if independent else {}, events, conflict)

    def record_many(self, steps: list[tuple[str, Events]]) -> tuple[list[Doc], list[str]]:
        """`record` for many independent steps in two round trips (markers, then
        changes: one unordered insert_many each); every change's own uniquely
        keyed insert still decides it alone. Returns (changes decided here,
        keys another writer had decided)."""
        if not steps:
            return [], []
        now = utcnow()
        batch = uuid.uuid4().hex
        changes: list[Doc] = []
        for key, events in steps:
            cid = change_id(STEPS, key, 1)
            changes.append(
                {
                    "_id": cid,
                    "collection": STEPS,
                    "doc_id": key,
                    "version": 1,
                    "events": [
                        self._envelope(cid, index, event, payload, now)
                        for index, (event, payload) in enumerate(events)
                    ],
                    "batch": batch,
                    "created_at": now,
                }
            )
        # The markers first, as in _decide: a change never exists unseen by the sweep.
        insert_new(self.markers, [{"_id": c["_id"], "created_at": now, "batch": batch} for c in changes])
        lost = insert_new(self.changes, changes)
        decided = [c for n, c in enumerate(changes) if n not in lost]
        if self.crash_after_decide and any(
            e["name"] == self.crash_after_decide for c in decided for e in c["events"]
        ):
            log.critical("fault injection: crashing after deciding %d steps", len(decided))
            os._exit(70)
        return decided, [steps[n][0] for n in sorted(lost)]

    def _decide(
        self,
        collection: str,
        doc_id: object,
        version: int,
        body: Doc,
        events: Events,
        conflict: Conflict | None,
    ) -> Doc:
        key = change_id(collection, doc_id, version)
        now = utcnow()
        change = {
            "_id": key,
            "collection": collection,
            "doc_id": doc_id,
            "version": version,
            **body,
            "events": [
                self._envelope(key, index, event, payload, now)
                for index, (event, payload) in enumerate(events)
            ],
            "created_at": now,
        }
        try:  # the marker first: a change can never exist unseen by the sweep
            self.markers.insert_one({"_id": key, "created_at": now})
        except DuplicateKeyError:
            pass  # a concurrent writer of the same version; the insert below decides
        try:
            self.changes.insert_one(change)
        except DuplicateKeyError:
            existing = self.changes.find_one({"_id": key})
            if existing is not None:
                self.apply(existing)  # the winner may have crashed before applying it
            raise _conflict(conflict) from None
        if self.crash_after_decide and any(e["name"] == self.crash_after_decide for e in change["events"]):
            log.critical("fault injection: crashing after deciding %s", key)
            os._exit(70)
        return change

    @staticmethod
    def _envelope(key: str, index: int, event: Event, payload: Doc, now: datetime) -> Doc:
        body = dict(payload, event_id=f"{key}:{index}", event=event.name, occurred_at=isoformat(now))
        check_payload(event, body)
        return {"name": event.name, "source": event.source, "payload": body}

    # -- applying -------------------------------------------------------

    def apply(self, change: Doc) -> None:
        """Make the document reflect `change`; idempotent."""
        collection = self.db[change["collection"]]
        if "insert" in change:
            try:
                collection.insert_one(change["insert"])
            except DuplicateKeyError:
                pass
        elif "set" in change:
            collection.update_one(
                {"_id": change["doc_id"], "version": change["version"] - 1},
                {"$set": dict(change["set"], version=change["version"])},
            )

    def pending(self, older_than: datetime, limit: int = 500) -> list[Doc]:
        """Unpublished changes decided before `older_than`, oldest first."""
        found = []
        markers = self.markers.find({"created_at": {"$lt": older_than}}).sort("created_at", ASCENDING)
        for marker in markers.limit(limit):
            change = self.changes.find_one({"_id": marker["_id"]})
            if change is not None:
                found.append(change)
            elif as_utc(marker["created_at"]) < older_than - ORPHAN_MARKER_AGE:
                self.markers.delete_one({"_id": marker["_id"]})
        return found

    def is_pending(self, key: str) -> bool:
        """Whether the change `key` may still have events to publish (its marker is there)."""
        return self.markers.find_one({"_id": key}, {"_id": 1}) is not None

    def mark_published(self, key: str) -> None:
        self.markers.delete_one({"_id": key})

    def mark_published_many(self, changes: list[Doc]) -> None:
        """The markers of `changes`, all published, gone: those of one `record_many`
        in one delete (by their `batch`, an equality read), the others by `_id`."""
        batches: dict[str | None, list[str]] = {}
        for change in changes:
            batches.setdefault(change.get("batch"), []).append(change["_id"])
        for batch, keys in batches.items():
            delete_ids(self.markers, keys, {"batch": batch} if batch else None)


def insert_new(collection: Collection[Doc], docs: list[Doc]) -> set[int]:
    """One unordered insert_many; the indexes of `docs` whose `_id` already
    existed (each insert is decided alone). Any other error is raised."""
    if not docs:
        return set()
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != 11000 for error in errors):
            raise
        return {error["index"] for error in errors}
    return set()
