"""Awards domain rules: decisions, embargo, the use cases.

The palmarès and its statistics are in palmares.py, the release protocol in
release.py (pure functions, and `ReleaseProtocol`, the part of `Awards` that
runs it). `Awards` orchestrates them over the repositories and the outbox,
knowing nothing of nameko.
"""

import time
import uuid
from collections.abc import Container, Iterable, Sequence
from datetime import timedelta
from typing import Any

from services.awards import feedback
from services.awards.palmares import (
    current_shape,
    palmares_line,
    public_collectivite,
    public_entry,
    statistics,
    with_progression,
)
from services.awards.release import ReleaseProtocol, batches, result_bucket
from services.common import contracts
from services.common.clock import isoformat, parse
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.reference import is_email
from services.common.shelves import shelf_fields
from services.common.types import Doc

ORGANISER = "organiser"
# An organiser's draft written out for one export (draft_export) is swept once this old.
DRAFT_EXPORT_SECONDS = 600


def draft_head(year: int, campaign: Doc, pending: list[str], entries: list[Doc]) -> Doc:
    """A draft palmarès without its lines: its figures, and no chunk (not released)."""
    return {
        "year": year,
        "released_at": None,
        "draft": True,
        "pending": pending,
        "ceremony_at": campaign["ceremony_at"],
        "ceremony_place": campaign["ceremony_place"],
        "title": campaign.get("title"),
        "stats": statistics(entries),
        "chunks": None,
    }


def embargoed() -> Conflict:
    return Conflict("Les résultats sont sous embargo jusqu'à la cérémonie.", "results_embargoed")


# -- pure rules ------------------------------------------------------------


def is_deliverable_email(email: object) -> bool:
    return is_email(email)


def departs_from_proposal(proposal: Doc | None, arobases: int, mentions: Sequence[str]) -> bool:
    """True when an organiser decision differs from the jury's proposal
    (no proposal at all: nothing to depart from)."""
    if not proposal:
        return False
    return proposal["arobases"] != arobases or sorted(proposal["mentions"]) != sorted(mentions)


def final_outcome(proposal: Doc | None, decision: Doc | None) -> Doc | None:
    """The organiser's decision when given, else the jury's proposal, else None."""
    if decision:
        return {
            "arobases": decision["arobases"],
            "mentions": list(decision["mentions"]),
            "source": "decision",
        }
    if proposal:
        return {
            "arobases": proposal["arobases"],
            "mentions": list(proposal["mentions"]),
            "source": "proposal",
        }
    return None


def active_applications(applications: Iterable[Doc], withdrawn_ids: Container[str]) -> list[Doc]:
    return sorted((a for a in applications if a["_id"] not in withdrawn_ids), key=lambda a: a["_id"])


def arrived(doc: Doc, as_of: Any, field: str = "received_at") -> bool:
    """Whether `doc` had arrived by `as_of` (None: now); a document stored
    before arrival times were kept counts as arrived."""
    return as_of is None or doc.get(field) is None or doc[field] <= as_of


# -- orchestration -----------------------------------------------------------


class Awards(ReleaseProtocol):
    """The awards use cases over `repo` (repository.AwardsRepository) and an
    outbox session (ledger writes that publish); `now` is the worker's instant."""

    def __init__(self, repo, outbox, now, clock=None):
        self.repo = repo
        self.outbox = outbox
        self.now = now
        # The instant as the work goes on (a release's write-out renews its
        # lease): `now` plus the time spent since, unless a clock is given.
        started = time.monotonic()
        self.clock = clock or (lambda: now + timedelta(seconds=time.monotonic() - started))

    # events in

    def campaign_opened(self, data):
        self.repo.save_campaign(
            {
                "_id": data["year"],
                "year": data["year"],
                "title": data["title"],
                "submissions_close_at": data["submissions_close_at"],
                "ceremony_at": data["ceremony_at"],
                "ceremony_place": data["ceremony_place"],
                "mentions": data["mentions"],
                # The grid's enjeux, for the feedback's labels and order.
                "enjeux": [{"code": e["code"], "label": e["label"]} for e in data.get("enjeux", [])],
            }
        )

    def application_submitted(self, data):
        self.applications_submitted([data])

    def applications_submitted(self, batch):
        """Each submitted application stored once (one insert for the batch)."""
        self.repo.add_applications(
            [
                {
                    "_id": data["application_id"],
                    "campaign_year": data["campaign_year"],
                    "collectivite": data["collectivite"],
                    "submitted_at": data["submitted_at"],
                    "declared_previous_arobases": data.get("declared_previous_arobases"),
                    "received_at": self.now,
                }
                for data in batch
            ]
        )

    def application_withdrawn(self, data):
        if self.repo.release_step(data["campaign_year"]) is not None:
            return  # the palmarès is frozen once released
        self.repo.add_withdrawal(
            {
                "_id": data["application_id"],
                "campaign_year": data["campaign_year"],
                "withdrawn_at": data["withdrawn_at"],
                "received_at": self.now,
            }
        )
        self.repo.note_ready_change(data["campaign_year"])

    def application_reviewed(self, data):
        if self.released(data["campaign_year"]):
            return  # the palmarès is published: no proposal changes any more
        self.repo.save_proposal(
            {
                "_id": data["application_id"],
                "campaign_year": data["campaign_year"],
                "collectivite": data["collectivite"],
                "proposal": data["proposal"],
                "reviews": data["reviews"],
                "disagreement": data["disagreement"],
                "received_at": self.now,
            }
        )
        self.repo.note_ready_change(data["campaign_year"])

    def check_deliberation_ready(self):
        """Emit deliberation_ready once per campaign whose submissions are
        closed and whose every application has a proposal; returns the years emitted."""
        emitted = []
        now = self.now
        for campaign in self.repo.campaigns():
            year = campaign["year"]
            state = self.repo.ready_state(year)
            if state.get("emitted") or parse(campaign["submissions_close_at"]) > now:
                continue
            change = self.repo.ready_change(year)  # read before the scan: a later one is seen next time
            if state.get("checked_after_close") and state.get("checked_change") == change:
                continue
            # While reviews stream in, a national campaign's scan is not free:
            # leave at least ten times its last duration between two scans.
            last = state.get("checked_at")
            if last is not None and (now - last).total_seconds() < 10 * state.get("scan_seconds", 0):
                continue
            started = time.monotonic()
            active, proposed = self._active_and_proposed(year)
            scan_seconds = time.monotonic() - started
            if active and active <= proposed:
                try:
                    self.outbox.record(
                        f"deliberation_ready:{year}",
                        [
                            (
                                contracts.DELIBERATION_READY,
                                {"campaign_year": year, "application_count": len(active)},
                            )
                        ],
                    )
                    emitted.append(year)
                except Conflict:
                    pass  # another instance emitted it
                self.repo.set_ready_state(year, {"emitted": True})
            else:
                self.repo.set_ready_state(
                    year,
                    {
                        "checked_change": change,
                        "checked_after_close": True,
                        "checked_at": now,
                        "scan_seconds": scan_seconds,
                    },
                )
        return emitted

    # reads

    def _campaign(self, year):
        campaign = self.repo.campaign(year)
        if campaign is None:
            raise NotFound(f"Campagne {year} inconnue.", "campaign_not_found")
        return campaign

    def _active_and_proposed(self, year):
        """The ids of the campaign's active applications (as `_inputs` counts
        them) and of those with a proposal: the readiness check, every few
        seconds once submissions close, reads no document whole."""
        proposed = self.repo.ids_of_campaign("proposals", year)
        submitted = self.repo.ids_of_campaign("applications", year)
        return (submitted | proposed) - self.repo.ids_of_campaign("withdrawals", year), proposed

    def _inputs(self, year, as_of=None, with_reviews=False):
        """Active applications, withdrawn ids, proposals (their reviews only
        if asked: the bulk of a campaign) and decisions of a campaign; with
        `as_of`, only what had arrived by then (a release retry recomputes
        exactly what the release decided)."""

        applications = {a["_id"]: a for a in self.repo.applications(year) if arrived(a, as_of)}
        proposals = {p["_id"]: p for p in self.repo.proposals(year, with_reviews) if arrived(p, as_of)}
        for app_id in proposals.keys() - applications.keys():  # reviewed before its submission event arrived
            applications[app_id] = self._unsubmitted(year, app_id)
        withdrawn = {w["_id"] for w in self.repo.withdrawals(year) if arrived(w, as_of)}
        decisions = {d["_id"]: d for d in self.repo.decisions(year) if arrived(d, as_of, "decided_at")}
        return active_applications(applications.values(), withdrawn), withdrawn, proposals, decisions

    def _decided(self, year, as_of=None):
        """Streams each active application with its outcome (None while
        undecided), its document read a cursor batch at a time: a national
        draft holds the outcomes, never every application at once. With
        `as_of`, as `_inputs`."""

        withdrawn = {w["_id"] for w in self.repo.withdrawals(year) if arrived(w, as_of)}
        proposals = {p["_id"]: p["proposal"] for p in self.repo.proposals(year) if arrived(p, as_of)}
        decisions = {d["_id"]: d for d in self.repo.decisions(year) if arrived(d, as_of, "decided_at")}
        seen = set()
        for app in self.repo.campaign_applications(year):
            if arrived(app, as_of):
                seen.add(app["_id"])
                if app["_id"] not in withdrawn:
                    # Popped: what the caller builds of each (a draft's lines) takes their room.
                    outcome = final_outcome(proposals.pop(app["_id"], None), decisions.pop(app["_id"], None))
                    yield app, outcome
        for app_id in sorted(proposals.keys() - seen - withdrawn):  # reviewed before its submission arrived
            yield self._unsubmitted(year, app_id), final_outcome(proposals[app_id], decisions.get(app_id))

    def _unsubmitted(self, year, app_id):
        """An application reviewed before its submission event arrived, as its proposal knows it."""
        return {
            "_id": app_id,
            "campaign_year": year,
            "collectivite": self.repo.proposal(app_id)["collectivite"],
        }

    def import_history(self, rows):
        """Past palmarès (labelctl palmares import): [{year, code, arobases}], validated."""
        by_year: dict[int, list[tuple[str, int]]] = {}
        for row in rows:
            by_year.setdefault(row["year"], []).append((row["code"], row["arobases"]))
        for year, levels in by_year.items():
            self.repo.record_levels(year, levels, "imported")
        return {"imported": len(rows)}

    def _draft(self, year, as_of=None):
        """(campaign, pending ids, palmarès entries) as of `as_of`: the
        entries' public lines are all it holds of the applications."""
        campaign = self._campaign(year)
        labels = {m["code"]: m["label"] for m in campaign.get("mentions", [])}
        pending, lines = [], []
        for app, outcome in self._decided(year, as_of):
            if outcome is None:
                pending.append(app["_id"])
            else:
                lines.append(palmares_line(app, outcome, labels))
        # Each applicant's labels over the years (released here or imported).
        history = self.repo.levels_of({line["collectivite"]["insee_code"] for line in lines})
        return campaign, sorted(pending), with_progression(lines, history, year)

    def release_feedback(self, year, campaign, entries, as_of=None):
        """`entries_of(part, entries)`: a part's palmarès entries, each with its
        collectivité's feedback (feedback.py), comments as moderated by `as_of`.
        The category averages over the labelled applications (`entries`) are made first,
        in one streamed pass over the reviews; then each part reads its own."""

        categories = {entry["application_id"]: entry["category"] for entry in entries}
        partless = []

        def scored():
            for proposal in self.repo.review_scores(year):
                if "part" not in proposal:
                    partless.append(proposal["_id"])
                if proposal["_id"] in categories and arrived(proposal, as_of):
                    yield categories[proposal["_id"]], proposal.get("reviews", [])

        averages = feedback.category_averages(scored())
        self.repo.give_parts(year, partless)
        labels = {m["code"]: m["label"] for m in campaign.get("mentions", [])}
        enjeux = campaign.get("enjeux") or []

        def entries_of(part, entries):
            reviews = {
                p["_id"]: p.get("reviews", []) for p in self.repo.reviews(year, part) if arrived(p, as_of)
            }
            moderations = self.repo.moderations(year, part)
            return [
                dict(
                    entry,
                    feedback=feedback.feedback(
                        categories[entry["application_id"]],
                        reviews.get(entry["application_id"], []),
                        averages,
                        enjeux,
                        labels,
                        moderations.get(entry["application_id"], {}),
                        as_of,
                    ),
                )
                for entry in entries
            ]

        return entries_of

    # comment moderation (during the deliberation)

    def comments(self, application_id):
        """The jurors' comments on one application, anonymised, with their moderation."""
        app = self.repo.application(application_id)
        review = self.repo.proposal(application_id)
        if app is None and review is None:
            raise NotFound("Candidature inconnue.", "application_not_found")
        return feedback.comments_for_moderation(
            (review or {}).get("reviews", []), self.repo.moderation_of(application_id)
        )

    def moderate_comment(self, application_id, review_id, data, by):
        """Approve, edit or hide one juror's comment; refused once the palmarès is released."""
        review = self.repo.proposal(application_id)
        reviews = {r["review_id"]: r for r in (review or {}).get("reviews", [])}
        if review_id not in reviews or not (reviews[review_id].get("comment") or "").strip():
            raise NotFound("Commentaire inconnu.", "comment_not_found")
        year = review["campaign_year"]
        self.refuse_if_frozen(year)
        text = (data.get("text") or "").strip()
        if data["state"] == feedback.EDITED and not text:
            raise ValidationFailed(
                {"text": ["Obligatoire : saisissez le commentaire tel qu'il sera publié."]}
            )
        too_long = len(reviews[review_id]["comment"].strip()) > feedback.MAX_COMMENT_CHARS
        if data["state"] == feedback.APPROVED and too_long:
            limit = f"{feedback.MAX_COMMENT_CHARS:,}".replace(",", "\u202f")
            raise ValidationFailed(
                {
                    "state": [
                        f"Ce commentaire dépasse {limit} caractères : "
                        "modifiez-le pour le raccourcir avant de le transmettre."
                    ]
                }
            )
        entry = {
            "state": data["state"],
            "text": text if data["state"] == feedback.EDITED else None,
            "by": by,
            "at": self.now,
        }
        self.repo.add_moderation(application_id, year, review_id, entry)
        return next(row for row in self.comments(application_id) if row["review_id"] == review_id)

    def deliberation(self, year):
        self._campaign(year)
        applications, _, proposals, decisions = self._inputs(year, with_reviews=True)
        rows = []
        for app in applications:
            review = proposals.get(app["_id"], {})
            rows.append(
                {
                    "application_id": app["_id"],
                    "collectivite": public_collectivite(app["collectivite"]),
                    "proposal": review.get("proposal"),
                    "reviews": review.get("reviews", []),
                    "disagreement": review.get("disagreement", False),
                    "decision": decision_view(decisions.get(app["_id"])),
                }
            )
        return rows

    def decisions_of(self, application_ids, shelves=None):
        """The decisions taken on these applications (a page's), by id: read by
        the `shelves` ([width, shelf]) the page's rows came from when given (a
        few equality reads), else each by its id."""
        if shelves is None:
            found = [self.repo.decision(application_id) for application_id in application_ids]
        else:
            wanted = set(application_ids)
            found = [
                doc
                for width, name in shelves
                for doc in self.repo.decisions_on_shelf(width, name)
                if doc["_id"] in wanted
            ]
        return {doc["_id"]: decision_view(doc) for doc in found if doc}

    def released(self, year):
        return self.repo.release_step(year) is not None

    # decisions

    def decide(self, application_id, data, by):
        app = self.repo.application(application_id)
        if app is None:
            raise NotFound("Candidature inconnue.", "application_not_found")
        year = app["campaign_year"]
        if self.repo.withdrawal(application_id) is not None:
            raise Conflict("Cette candidature a été retirée.", "application_withdrawn")
        self.refuse_if_frozen(year)
        campaign = self._campaign(year)
        known = {m["code"] for m in campaign.get("mentions", [])}
        unknown = [code for code in data["mentions"] if code not in known]
        if unknown:
            raise ValidationFailed({"mentions": [f"Mention inconnue : {', '.join(unknown)}."]})
        if len(set(data["mentions"])) != len(data["mentions"]):
            raise ValidationFailed({"mentions": ["Une mention est répétée."]})
        review = self.repo.proposal(application_id)
        proposal = review["proposal"] if review else None
        departs = departs_from_proposal(proposal, data["arobases"], data["mentions"])
        reason = (data.get("reason") or "").strip()
        if departs and not reason:
            raise ValidationFailed(
                {"reason": ["Obligatoire : la décision s'écarte de la proposition du jury, justifiez-la."]}
            )
        now = self.now
        fields = {
            "campaign_year": year,
            **shelf_fields(application_id),
            "arobases": data["arobases"],
            "mentions": list(data["mentions"]),
            "reason": reason or None,
            "departs_from_proposal": departs,
            "proposal": proposal,
            "decided_by": by,
            "decided_at": now,
        }
        current = self.repo.decision(application_id)
        if current is None:
            doc = self.outbox.create("decisions", dict(fields, _id=application_id, history=[]))
        else:
            previous = {
                k: current.get(k) for k in ("arobases", "mentions", "reason", "decided_by", "decided_at")
            }
            doc = self.outbox.update(
                "decisions", current, dict(fields, history=current.get("history", []) + [previous])
            )
        return decision_view(doc)

    # results

    def palmares(self, year, role, region=None, lines=True):
        """The palmarès: a draft for organisers before the release. Its lines:
        all of them, or a region's only, or none (`lines=False`: its figures)."""

        def kept(entries):
            if not lines:
                return []
            return [public_entry(e) for e in entries if region is None or e["region"] == region]

        release = self._published(year, role)
        if release is None:
            campaign, pending, entries = self._draft(year)
            return dict(draft_head(year, campaign, pending, entries), labelled=kept(entries))
        campaign = self.repo.campaign(year) or {}
        if not lines:
            entries = []
        elif region is None or "region_chunks" not in release:  # (a release stored before them)
            entries = self.repo.palmares_entries(year)
        else:
            where = next((c for c in release["region_chunks"] if c["region"] == region), None)
            entries = self.repo.palmares_entries(year, where["first"], where["last"]) if where else []
        return {
            "year": year,
            "released_at": release["released_at"],
            "draft": False,
            "pending": release.get("pending", []),
            "ceremony_at": campaign.get("ceremony_at"),
            "ceremony_place": campaign.get("ceremony_place"),
            "title": campaign.get("title"),
            "labelled": kept(entries),
            "stats": current_shape(release["stats"]),
            "chunks": release["chunks"],
        }

    def palmares_chunk(self, year, role, index):
        """Lines `index` × RELEASE_BATCH_SIZE on of a released palmarès, in its
        order (`palmares` gives the number of chunks): the exports read them
        one after the other, as a whole national palmarès held at once took
        awards 100 MiB above its idle size. A draft's: `draft_export`."""
        if self._published(year, role) is None:
            raise Conflict(f"Le palmarès {year} n'est pas encore publié.", "palmares_not_released")
        return self.repo.palmares_chunk(year, index)

    def draft_export(self, year, role):
        """An organiser's draft for one export: its figures (as `palmares`),
        `chunks`, and `export`, the key of its lines written out in chunks as
        a release's are (`draft_chunk`), so that the export is put together
        chunk by chunk; a national draft read whole would take this process
        and the gateway about 100 MiB above their idle size. Swept after
        DRAFT_EXPORT_SECONDS. Once released, the release's chunks are the export."""
        if self._published(year, role) is not None:
            raise Conflict(f"Le palmarès {year} est publié : il n'a plus de brouillon.", "palmares_released")
        campaign, pending, entries = self._draft(year)
        export = uuid.uuid4().hex
        chunks = batches(entries)
        for index, chunk in enumerate(chunks):
            self.repo.save_draft_chunk(export, index, [public_entry(entry) for entry in chunk], self.now)
        return dict(draft_head(year, campaign, pending, entries), chunks=len(chunks), export=export)

    def draft_chunk(self, export, index):
        """Chunk `index` of a draft export's lines ([] past the last, or once swept)."""
        return self.repo.draft_chunk(export, index)

    def sweep_draft_exports(self):
        return self.repo.drop_draft_exports(self.now - timedelta(seconds=DRAFT_EXPORT_SECONDS))

    def _published(self, year, role):
        """The complete release, or None for an organiser before it (the draft);
        refused to anyone else, and to all while it is being written out."""
        release = self.repo.release(year)
        if release and release.get("complete"):
            return release
        if self.repo.release_step(year) is not None:
            # Decided, being written out: readers wait, they never trigger the work
            # (the releaser, or the recovery timer, completes it).
            raise Conflict(
                f"Le palmarès {year} est en cours de publication : revenez dans un instant.",
                "release_in_progress",
            )
        if role != ORGANISER:
            raise embargoed()
        return None

    def released_campaigns(self):
        rows = [
            {"year": r["_id"], "released_at": r["released_at"], "labelled_count": r["labelled_count"]}
            for r in self.repo.releases()
            if r.get("complete")
        ]
        return sorted(rows, key=lambda r: -r["year"])

    def application_result(self, application_id, role, subject):
        """One application's result: its owner (or an organiser) only, and only after the release."""
        app = self.repo.application(application_id)
        if app is None or (
            role != ORGANISER and not (role == "collectivite" and app["collectivite"]["id"] == subject)
        ):
            raise NotFound("Candidature inconnue.", "application_not_found")
        year = app["campaign_year"]
        if role != ORGANISER and not self.released(year):
            raise embargoed()
        release = self.repo.release(year)
        if release and release.get("complete") and release.get("result_buckets"):
            # Released: this application's entry alone, from its bucket (one read,
            # not the whole palmarès, as 35,000 collectivités open theirs at once).
            bucket = result_bucket(application_id, release["result_buckets"])
            entry = self.repo.result_entry(year, application_id, bucket)
            return result_view(application_id, year, entry, release["released_at"])
        palmares = self.palmares(year, role)  # an organiser's draft, or a release stored before buckets
        # Public entries carry no feedback: a draft shows none, a release its stored line's.
        entry = next((e for e in palmares["labelled"] if e["application_id"] == application_id), None)
        if entry is not None and not palmares["draft"]:
            stored = self.repo.palmares_entry(year, application_id) or {}
            entry = dict(entry, feedback=stored.get("feedback"))
        return result_view(application_id, year, entry, palmares["released_at"])


def result_view(application_id: str, year: int, entry: Doc | None, released_at) -> Doc:
    """One application's result: labelled or not, with the feedback its entry carries
    (only a released one does, as the release froze it)."""
    if entry is None:
        return {
            "application_id": application_id,
            "campaign_year": year,
            "labelled": False,
            "released_at": released_at,
        }
    return {
        "application_id": application_id,
        "campaign_year": year,
        "labelled": True,
        "arobases": entry["arobases"],
        "mentions": entry["mentions"],
        "progression": entry["progression"],
        "released_at": released_at,
        "feedback": entry.get("feedback"),
    }


def decision_view(doc: Doc | None) -> Doc | None:
    if not doc:
        return None
    view = {
        key: doc.get(key)
        for key in ("arobases", "mentions", "reason", "departs_from_proposal", "decided_by", "decided_at")
    }
    if view["decided_at"] is not None and not isinstance(view["decided_at"], str):
        view["decided_at"] = isoformat(view["decided_at"])
    view["history"] = [
        dict(h, decided_at=isoformat(h["decided_at"]) if h.get("decided_at") else None)
        for h in doc.get("history", [])
    ]
    return view
