"""The release protocol: one uniquely keyed ledger step decides the release
(`release:<year>`, carrying results_released); the award_decided events leave
in deterministic batches (`release:<year>:batch:<n>`), each its own step, so a
retry after a crash writes exactly the same events; then the palmarès is
written out. `ReleaseProtocol` is the part of `logic.Awards` that runs it.
"""

import uuid
import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from services.awards.palmares import public_entry, statistics
from services.common import contracts, tallies
from services.common.clock import isoformat, parse
from services.common.errors import Conflict
from services.common.french import french_date
from services.common.reference import is_email
from services.common.types import Doc

RELEASE_BATCH_SIZE = 500
# Entries to a `results` document: a collectivité's result reads one (about
# 100 kB with the feedback), and the release writes 350 at 35,000 collectivités.
RESULT_BUCKET_SIZE = 100
# A completer that died leaves the release to another after this long (the
# recovery timer); a national release is written out well within it.
COMPLETION_LEASE = timedelta(minutes=3)


def preview(labelled: Sequence[tuple[Doc, Doc]], pending: Sequence[str], released: bool) -> Doc:
    by_arobases = {str(level): 0 for level in range(1, 6)}
    missing = []
    for app, outcome in labelled:
        by_arobases[str(outcome["arobases"])] += 1
        if not is_email(app["collectivite"].get("email")):
            missing.append(app["collectivite"]["id"])
    return {
        "ready": not pending,
        "released": released,
        "labelled_count": len(labelled),
        "by_arobases": by_arobases,
        "undecided": list(pending),
        "missing_email": missing,
        "emails_to_send": len(labelled) - len(missing),
    }


def award_payload(year: int, app: Doc, entry: Doc, campaign: Doc) -> Doc:
    return {
        "campaign_year": year,
        "application_id": app["_id"],
        "collectivite": app["collectivite"],
        "arobases": entry["arobases"],
        "mentions": entry["mentions"],
        "progression": entry["progression"],
        "previous_arobases": entry["previous_arobases"],
        "previous_year": entry.get("previous_year"),
        "previous_declared": entry.get("previous_declared", False),
        "ceremony_at": campaign["ceremony_at"],
        "ceremony_place": campaign["ceremony_place"],
        "feedback": entry.get("feedback"),
    }


def batches(items: list[Doc], size: int = RELEASE_BATCH_SIZE) -> list[list[Doc]]:
    """Deterministic batches: the same items give the same keys on a retry."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def result_bucket(application_id: str, buckets: int) -> int:
    """Where one application's released entry is kept: a stable hash (not
    Python's, salted per process) of its id, among `buckets` documents."""
    return zlib.crc32(application_id.encode()) % buckets


def result_buckets(entries: list[Doc], size: int = RESULT_BUCKET_SIZE) -> list[list[Doc]]:
    """The entries by result_bucket, about `size` to a document (one at least)."""
    buckets: list[list[Doc]] = [[] for _ in range(max(1, -(-len(entries) // size)))]
    for entry in entries:
        buckets[result_bucket(entry["application_id"], len(buckets))].append(entry)
    return buckets


def release_key(year: int) -> str:
    return f"release:{year}"


def batch_key(year: int, index: int) -> str:
    return f"release:{year}:batch:{index}"


def step_view(year: int, released: Doc) -> Doc:
    """A release decided and still being written out (by another completer)."""
    return {
        "year": year,
        "released_at": released["released_at"],
        "released_by": released["released_by"],
        "labelled_count": released["labelled_count"],
        "pending": released.get("pending", []),
    }


def release_view(doc: Doc) -> Doc:
    return {
        "year": doc["_id"],
        "released_at": doc["released_at"],
        "released_by": doc["released_by"],
        "labelled_count": doc["labelled_count"],
        "pending": doc.get("pending", []),
    }


class ReleaseProtocol:
    """Mixed into logic.Awards: needs its repo, outbox, now and `_draft`."""

    repo: Any
    outbox: Any
    now: Any

    def _draft(self, year: int, as_of: Any = None) -> Any:
        raise NotImplementedError

    def feedback_entries(
        self, year: int, campaign: Doc, labelled: Any, entries: Any, as_of: Any = None
    ) -> Any:
        raise NotImplementedError

    def released(self, year: int) -> bool:
        raise NotImplementedError

    def release_preview(self, year):
        _, labelled, pending, _ = self._draft(year)
        return preview(labelled, pending, self.released(year))

    def release_preview_tally(self, year):
        """The preview as the organisers' release page shows it before the
        release: a tally (common/tallies.py), since drafting a national
        palmarès takes seconds; the release itself drafts it again."""
        return tallies.read(self.repo.tallies, [year], self._unreleased_preview, self.now)

    def refresh_tallies(self):
        return tallies.refresh_asked(self.repo.tallies, self._unreleased_preview, self.now)

    def _unreleased_preview(self, year):
        _, labelled, pending, _ = self._draft(year)
        return preview(labelled, pending, released=False)

    def release(self, year, by, force=False, reason=None):
        step = self.repo.release_step(year)
        if step is None:
            released_at = self.now
            campaign, labelled, pending, entries = self._draft(year, as_of=released_at)
            if pending and not force:
                raise Conflict(
                    f"{len(pending)} candidature(s) sans proposition ni décision ; "
                    "décidez-les ou forcez la publication.",
                    "applications_undecided",
                )
            closes = campaign.get("submissions_close_at")
            early = bool(closes) and parse(closes) > released_at
            if early and not (force and (reason or "").strip()):
                raise Conflict(
                    f"Les candidatures {year} sont ouvertes jusqu'au {french_date(closes)} : "
                    "le palmarès se publie après leur clôture "
                    "(ou forcez la publication en donnant un motif).",
                    "submissions_open",
                )
            try:
                step = self.outbox.record(
                    release_key(year),
                    [
                        (
                            contracts.RESULTS_RELEASED,
                            {
                                "campaign_year": year,
                                "released_at": isoformat(released_at),
                                "released_by": by,
                                "labelled_count": len(entries),
                                "pending": pending,
                                "early_release_reason": reason.strip() if early and reason else None,
                            },
                        )
                    ],
                    publish=False,
                )
            except Conflict:
                step = self.repo.release_step(year)  # a concurrent call decided it
            else:  # what we just computed is what the record decided: no second scan
                return self._complete_release(year, step, (campaign, labelled, pending, entries))
        return self._complete_release(year, step)

    def _complete_release(self, year, step, draft=None):
        """Write (again) everything the release record decided; idempotent, so
        a retry after a crash finishes the job with the same keys. One completer
        at a time (a lease): another caller gets the decided release, unwritten."""
        released = step["events"][0]["payload"]
        existing = self.repo.release(year)
        if existing and existing.get("complete"):
            return release_view(existing)
        if not self.repo.take_completion(year, uuid.uuid4().hex, self.now, self.now + COMPLETION_LEASE):
            return step_view(year, released)
        as_of = parse(released["released_at"])
        campaign, labelled, pending, entries = draft or self._draft(year, as_of=as_of)
        # Each line carries its collectivité's feedback, comments as moderated at the release.
        entries = self.feedback_entries(year, campaign, labelled, entries, as_of)
        by_app = {app["_id"]: app for app, _ in labelled}
        # Each record is published as soon as it is written, well within the
        # relay sweep's grace period, so the sweep seldom publishes it a second
        # time (consumers would drop the copy by its event id anyway).
        self._publish(step)
        for index, batch in enumerate(batches(entries)):
            # Read first: after a crash, a record tried again would put its
            # marker back and have its 200 events published a second time.
            change = self.repo.step(batch_key(year, index))
            if change is None:
                events = [
                    (contracts.AWARD_DECIDED, award_payload(year, by_app[e["application_id"]], e, campaign))
                    for e in batch
                ]
                try:
                    change = self.outbox.record(
                        batch_key(year, index), events, publish=False, independent=True
                    )
                except Conflict:
                    change = self.repo.step(batch_key(year, index))
            self._publish(change)
        # The public palmarès, read by every visitor, carries the public fields
        # only: the feedback was 82 % of its bytes at 3,500 collectivités, decoded
        # by the database at each read. Each collectivité's own result page reads
        # its entry, feedback included, from its bucket.
        chunks = batches([public_entry(entry) for entry in entries])
        for index, chunk in enumerate(chunks):
            self.repo.save_palmares_chunk(year, index, chunk)
        buckets = result_buckets(entries)
        for index, bucket in enumerate(buckets):
            self.repo.save_result_bucket(year, index, bucket)
        # The label's history, for the progression of later campaigns.
        self.repo.record_levels(
            year, [(e["collectivite"]["insee_code"], e["arobases"]) for e in entries], "released"
        )
        doc = {
            "_id": year,
            "released_at": released["released_at"],
            "released_by": released["released_by"],
            "labelled_count": len(entries),
            "pending": released["pending"],
            "chunks": len(chunks),
            "result_buckets": len(buckets),
            "stats": statistics(entries),
            "complete": True,
        }
        self.repo.save_release(doc)
        return release_view(doc)

    def finish_interrupted_releases(self):
        """A release decided but not fully written out (the service died
        mid-way) is finished here, so every award_decided still leaves without
        anyone calling the release again. Returns the years finished."""
        finished = []
        for campaign in self.repo.campaigns():
            year = campaign["year"]
            existing = self.repo.release(year)
            if existing and existing.get("complete"):
                continue
            step = self.repo.release_step(year)
            if step is not None:
                self._complete_release(year, step)  # skipped while another completer holds it
                if (self.repo.release(year) or {}).get("complete"):
                    finished.append(year)
        return finished

    def _publish(self, change):
        if change is not None:
            self.outbox.publish(change)
