"""The release protocol. An organiser's click is a request (one standing per
campaign), checked at once only for what is cheap: the campaign, its closing
date. The awards timer drafts it as of the click, refuses it if applications
are undecided and it is not forced, or decides it: one uniquely keyed ledger
step (`release:<year>`, carrying results_released). A national draft takes
longer than an HTTP request may, hence the timer. The award_decided events
then leave in deterministic batches (`release:<year>:part:<p>:batch:<n>`),
each its own step, so a retry after a crash writes exactly the same events;
then the palmarès is written out. The events and the result buckets carry each
collectivité's feedback, drawn from its jurors' reviews: they are written one
release part at a time (`release_part`, a stable hash of the application's id
that awards stores with the reviews and moderations), so a national write-out
holds one part's reviews, not the campaign's. `ReleaseProtocol` is the part of
`logic.Awards` that runs it.
"""

import enum
import uuid
import zlib
from collections.abc import Iterable, Sequence
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
# Parts of a campaign's applications, read one at a time by the write-out (by
# an equality FerretDB serves from an index): about 550 at 35,000.
RELEASE_PARTS = 64
# Entries to a `results` document, at most about: a collectivité's result reads
# one (about 100 kB with the feedback), and the release writes 384 at 35,000
# collectivités (64 at least, one or more to a part).
RESULT_BUCKET_SIZE = 100
# A completer that died leaves the release to another after this long (the
# recovery timer). A living one renews it part by part: a national write-out
# outlasts it (at a tenth of the size, under the visitors' load, it took more
# than 3 minutes, and the recovery began a second draft beside the first).
COMPLETION_LEASE = timedelta(minutes=3)
# Requests decided per timer tick: one per campaign stands at most.
REQUESTS_PER_TICK = 10


class ReleaseState(enum.StrEnum):
    """Where a campaign's release stands (release_state, API.md)."""

    NOT_REQUESTED = "not_requested"
    REQUESTED = "requested"  # waiting for the timer's draft
    REFUSED = "refused"  # the draft found undecided applications; a new click may follow
    DECIDED = "decided"  # (a request's last state) the ledger step exists
    RELEASING = "releasing"  # decided, being written out
    RELEASED = "released"


# Once requested, decisions, moderations and withdrawals are closed: the
# draft is made as of the click, and must not miss what follows it.
FROZEN = {ReleaseState.REQUESTED, ReleaseState.RELEASING, ReleaseState.RELEASED}


def preview(decided: Iterable[tuple[Doc, Doc | None]], released: bool) -> Doc:
    """The release's figures from each active application and its outcome
    (None while undecided), streamed."""
    by_arobases = {str(level): 0 for level in range(1, 6)}
    missing, pending, labelled = [], [], 0
    for app, outcome in decided:
        if outcome is None:
            pending.append(app["_id"])
            continue
        labelled += 1
        by_arobases[str(outcome["arobases"])] += 1
        if not is_email(app["collectivite"].get("email")):
            missing.append(app["collectivite"]["id"])
    return {
        "ready": not pending,
        "released": released,
        "labelled_count": labelled,
        "by_arobases": by_arobases,
        "undecided": sorted(pending),
        "missing_email": missing,
        "emails_to_send": labelled - len(missing),
    }


def award_payload(year: int, collectivite: Doc, entry: Doc, campaign: Doc) -> Doc:
    return {
        "campaign_year": year,
        "application_id": entry["application_id"],
        "collectivite": collectivite,
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


def _stable_hash(application_id: str) -> int:
    return zlib.crc32(application_id.encode())  # not Python's hash, salted per process


def release_part(application_id: str) -> int:
    return _stable_hash(application_id) % RELEASE_PARTS


def by_release_part(entries: Iterable[Doc]) -> dict[int, list[Doc]]:
    """The entries of each non-empty part, in their given order."""
    parts: dict[int, list[Doc]] = {}
    for entry in entries:
        parts.setdefault(release_part(entry["application_id"]), []).append(entry)
    return dict(sorted(parts.items()))


def result_bucket(application_id: str, buckets: int) -> int:
    """Where one application's released entry is kept: among `buckets` documents."""
    return _stable_hash(application_id) % buckets


def result_bucket_count(labelled_count: int, size: int = RESULT_BUCKET_SIZE) -> int:
    """About `size` entries to a bucket, and a multiple of RELEASE_PARTS, so
    that a part's entries fill whole buckets (those ≡ the part modulo
    RELEASE_PARTS) and each part writes its own."""
    return RELEASE_PARTS * max(1, -(-labelled_count // (size * RELEASE_PARTS)))


def result_buckets(entries: Iterable[Doc], count: int) -> dict[int, list[Doc]]:
    """The non-empty buckets of these entries among `count`, by index."""
    buckets: dict[int, list[Doc]] = {}
    for entry in entries:
        buckets.setdefault(result_bucket(entry["application_id"], count), []).append(entry)
    return dict(sorted(buckets.items()))


def region_chunks(chunks: Sequence[Sequence[Doc]]) -> list[Doc]:
    """[{region, first, last}]: the chunks where each region's lines are (the
    palmarès is sorted by region, so they follow each other); a region's page
    reads those alone. A list: a region's name is no field name."""
    found: dict[str, Doc] = {}
    for index, chunk in enumerate(chunks):
        for entry in chunk:
            found.setdefault(entry["region"], {"region": entry["region"], "first": index})["last"] = index
    return list(found.values())


def early_release(campaign: Doc, moment: Any) -> bool:
    """Whether a release at `moment` comes before the campaign's submissions close."""
    closes = campaign.get("submissions_close_at")
    return closes is not None and parse(closes) > moment


def release_key(year: int) -> str:
    return f"release:{year}"


def batch_key(year: int, part: int, index: int) -> str:
    return f"release:{year}:part:{part}:batch:{index}"


def unparted_batch_key(year: int, index: int) -> str:
    """A batch of a release begun before release parts: all its lines in
    palmarès order, 500 to a batch. Finished the same way, with the same keys,
    so that no event is recorded again under another key (another email)."""
    return f"release:{year}:batch:{index}"


def release_view(year: int, released: Doc) -> Doc:
    """A decided release as the caller sees it, from its ledger step's
    results_released payload or from its stored summary (the same fields)."""
    return {
        "year": year,
        "released_at": released["released_at"],
        "released_by": released["released_by"],
        "labelled_count": released["labelled_count"],
        "pending": released.get("pending", []),
    }


class ReleaseProtocol:
    """Mixed into logic.Awards: needs its repo, outbox, now, clock, `_decided` and `_draft`."""

    repo: Any
    outbox: Any
    now: Any
    clock: Any

    def _draft(self, year: int, as_of: Any = None) -> Any:
        raise NotImplementedError

    def _decided(self, year: int, as_of: Any = None) -> Any:
        raise NotImplementedError

    def release_feedback(self, year: int, campaign: Doc, entries: Any, as_of: Any = None) -> Any:
        raise NotImplementedError

    def released(self, year: int) -> bool:
        raise NotImplementedError

    def _campaign(self, year: int) -> Doc:
        raise NotImplementedError

    def refuse_if_frozen(self, year: int) -> None:
        """Decisions and moderations close at the click, not at the decision:
        the draft is made as of the click."""
        if self.released(year):
            raise Conflict("Le palmarès de cette campagne est déjà publié.", "results_released")
        request = self.repo.release_request(year)
        if request is not None and request["state"] == ReleaseState.REQUESTED:
            raise Conflict(
                "La publication du palmarès est en préparation : les décisions sont closes.",
                "release_requested",
            )

    def release_preview_tally(self, year):
        """The preview as the release page and the API show it before the
        release: a tally (common/tallies.py), since drafting a national
        palmarès takes a minute; the release itself drafts it again."""
        if self.repo.campaign(year) is None:  # not heard of yet: no count it would fail
            return {"counts": None, "counted_at": None, "recounting": True}
        return tallies.read(self.repo.tallies, [year], self._unreleased_preview, self.now)

    def refresh_tallies(self):
        return tallies.refresh_asked(self.repo.tallies, self._unreleased_preview, self.now)

    def _unreleased_preview(self, year):
        # Outcomes only, streamed: no palmarès line, no label history, no
        # application held (a whole campaign held took awards to 175 MiB at 35,000).
        return preview(self._decided(year), released=False)

    def release(self, year, by, force=False, reason=None):
        """An organiser's request for the release (see the module's docstring):
        refused here if the campaign is unknown or still open without a
        reason; a second request while one stands changes nothing."""
        if self.released(year):
            return self.release_state(year)
        campaign = self._campaign(year)
        reason = (reason or "").strip() or None
        if early_release(campaign, self.now) and not (force and reason):
            raise Conflict(
                f"Les candidatures {year} sont ouvertes jusqu'au "
                f"{french_date(campaign['submissions_close_at'])} : "
                "le palmarès se publie après leur clôture "
                "(ou forcez la publication en donnant un motif).",
                "submissions_open",
            )
        self.repo.request_release(
            {
                "_id": year,
                "state": ReleaseState.REQUESTED.value,
                "requested_at": self.now,
                "requested_by": by,
                "force": force,
                "reason": reason,
                "refusal": None,
            }
        )
        return self.release_state(year)

    def release_state(self, year):
        record = self.repo.release(year)
        if record and record.get("complete"):
            return dict(release_view(year, record), state=ReleaseState.RELEASED.value, frozen=True)
        step = self.repo.release_step(year)
        if step is not None:
            view = release_view(year, step["events"][0]["payload"])
            return dict(view, state=ReleaseState.RELEASING.value, frozen=True)
        request = self.repo.release_request(year)
        if request is None or request["state"] == ReleaseState.DECIDED:
            # Also for a campaign not heard of yet (its event may be late, or
            # dead-lettered): a withdrawal asks before the release may begin.
            return {"year": year, "state": ReleaseState.NOT_REQUESTED.value, "frozen": False}
        state = ReleaseState(request["state"])
        return {
            "year": year,
            "state": state.value,
            "frozen": state in FROZEN,
            "requested_at": isoformat(request["requested_at"]),
            "requested_by": request["requested_by"],
            "refusal": request.get("refusal"),
        }

    def decide_requested_releases(self):
        """Each standing request drafted as of its click, then refused or
        decided and written out. Returns the years released."""
        released = []
        for request in self.repo.requested_releases(ReleaseState.REQUESTED.value, REQUESTS_PER_TICK):
            year, requested_at = request["_id"], request["requested_at"]
            step, draft = self.repo.release_step(year), None
            if step is None:
                draft = self._draft(year, as_of=requested_at)
                _, pending, _ = draft
                if pending and not request["force"]:
                    refusal = {
                        "code": "applications_undecided",
                        "message": f"{len(pending)} candidature(s) sans proposition ni décision ; "
                        "décidez-les ou forcez la publication.",
                    }
                    self.repo.settle_release_request(year, requested_at, ReleaseState.REFUSED.value, refusal)
                    continue
                step = self._record_release(year, request, draft)
                if step is None:  # a concurrent timer decided it: its draft is not ours to reuse
                    step, draft = self.repo.release_step(year), None
            self.repo.settle_release_request(year, requested_at, ReleaseState.DECIDED.value)
            self._complete_release(year, step, draft)
            released.append(year)
        return released

    def _record_release(self, year, request, draft):
        """The ledger step that decides the release, or None if another did."""
        campaign, pending, entries = draft
        early = early_release(campaign, request["requested_at"])
        try:
            return self.outbox.record(
                release_key(year),
                [
                    (
                        contracts.RESULTS_RELEASED,
                        {
                            "campaign_year": year,
                            "released_at": isoformat(request["requested_at"]),
                            "released_by": request["requested_by"],
                            "labelled_count": len(entries),
                            "pending": pending,
                            "early_release_reason": request["reason"] if early else None,
                        },
                    )
                ],
                publish=False,
            )
        except Conflict:
            return None

    def _complete_release(self, year, step, draft=None):
        """Write (again) everything the release record decided; idempotent, so
        a retry after a crash finishes the job with the same keys. One completer
        at a time (a lease): another caller gets the decided release, unwritten."""
        released = step["events"][0]["payload"]
        existing = self.repo.release(year)
        if existing and existing.get("complete"):
            return release_view(year, existing)
        owner = uuid.uuid4().hex
        if not self.repo.take_completion(year, owner, self.now, self.now + COMPLETION_LEASE):
            return release_view(year, released)  # decided, written out by another completer
        as_of = parse(released["released_at"])
        campaign, pending, entries = draft or self._draft(year, as_of=as_of)
        if not self._hold_completion(year, owner):
            return release_view(year, released)
        # Each record is published as soon as it is written, well within the
        # relay sweep's grace period, so the sweep seldom publishes it a second
        # time (consumers would drop the copy by its event id anyway).
        self._publish(step)
        with_feedback = self.release_feedback(year, campaign, entries, as_of)
        bucket_count = result_bucket_count(len(entries))
        unparted = self.repo.step(unparted_batch_key(year, 0)) is not None
        unparted_lines = []  # (a release begun before release parts: its events in its own batches)
        for part, part_entries in by_release_part(entries).items():
            if not self._hold_completion(year, owner):
                return release_view(year, released)  # another completer took over: it writes it all
            # Each line carries its collectivité's feedback, comments as moderated at the release.
            full = with_feedback(part, part_entries)
            if unparted:
                unparted_lines += full
            else:
                collectivites = self._collectivites(year, part, part_entries)
                for index, batch in enumerate(batches(full)):
                    self._write_batch(year, batch_key(year, part, index), batch, collectivites, campaign)
            # Each collectivité's own result page reads its entry, feedback included, from its bucket.
            for index, bucket in result_buckets(full, bucket_count).items():
                self.repo.save_result_bucket(year, index, bucket)
        if unparted:
            order = {e["application_id"]: n for n, e in enumerate(entries)}
            unparted_lines.sort(key=lambda e: order[e["application_id"]])
            collectivites = self._collectivites(year, None, unparted_lines)
            for index, batch in enumerate(batches(unparted_lines)):
                self._write_batch(year, unparted_batch_key(year, index), batch, collectivites, campaign)
        # The public palmarès, read by every visitor, carries the public fields
        # only: the feedback was 82 % of its bytes at 3,500 collectivités, decoded
        # by the database at each read.
        chunks = batches(entries)
        for index, chunk in enumerate(chunks):
            self.repo.save_palmares_chunk(year, index, [public_entry(entry) for entry in chunk])
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
            "region_chunks": region_chunks(chunks),
            "result_buckets": bucket_count,
            "stats": statistics(entries),
            "complete": True,
        }
        self.repo.save_release(doc)
        return release_view(year, doc)

    def _hold_completion(self, year, owner):
        """Whether this completer still holds the release's lease, renewed if so."""
        return self.repo.renew_completion(year, owner, self.clock() + COMPLETION_LEASE)

    def _collectivites(self, year, part, entries):
        """{application id: collectivité} for these entries, whole (the result
        email goes to its address): a release part's applications read by
        equality (`part` None: the campaign's), then each one missing by its
        id (stored without a part by a replica of earlier code), or from its
        proposal (reviewed before its submission arrived)."""
        found = {app["_id"]: app["collectivite"] for app in self.repo.campaign_applications(year, part)}
        for entry in entries:
            app_id = entry["application_id"]
            if app_id not in found:
                app = self.repo.application(app_id) or self.repo.proposal(app_id)
                found[app_id] = app["collectivite"]
        return found

    def _write_batch(self, year, key, batch, collectivites, campaign):
        # Read first: after a crash, a record tried again would put its
        # marker back and have its events published a second time.
        change = self.repo.step(key)
        if change is None:
            events = [
                (
                    contracts.AWARD_DECIDED,
                    award_payload(year, collectivites[e["application_id"]], e, campaign),
                )
                for e in batch
            ]
            try:
                change = self.outbox.record(key, events, publish=False, independent=True)
            except Conflict:
                change = self.repo.step(key)
        self._publish(change)

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
