"""The jury's use cases: `JuryDesk` applies the rules of eligibility.py (who
may review what, leases) and consolidation.py (reviews → proposal) to the
repositories and the outbox. Plain Python (no nameko).

Concurrency (FerretDB v1 has no atomic conditional update): every exclusive
step is decided by a uniquely keyed insert.
- A task's transitions (claim, review, release, cancel) are ledger updates:
  the change `tasks:<task id>:<n>` is inserted once, so of two claimers that
  read the task at version n-1 only one gets version n; an expired claim is
  simply the next number. The task version is its claim sequence number.
- A juror never holds two tasks of one application: before claiming, the
  claimer inserts `assignments/<juror id>:<application id>`.
- The application's first claim (the "your review starts" mail): the insert
  of `review_starts/<application id>` designates one claim slot (task, version);
  the winner of that slot's ledger insert sends `first_claim: true`.
"""

import itertools
import logging
import random
import uuid
from collections.abc import Iterable
from datetime import timedelta

from services.common import contracts, tallies
from services.common.clock import as_utc, isoformat
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.shelves import SHELF_WIDTHS, disputed_fields, shelf, shelf_fields
from services.common.types import Doc
from services.jury.consolidation import check_review, next_step, review_ref, score_spread
from services.jury.eligibility import (
    CANCELLED,
    CLAIMED,
    DONE,
    OPEN,
    ClaimIndex,
    OpenTasks,
    claimable,
    conflicted,
    held_by,
    shown_state,
    task_view,
)
from services.jury.schemas import TASK_PAGE

# Application review states (deliberation view).
REVIEWING, WAITING_EXTRA, REVIEWED, WITHDRAWN = "reviewing", "waiting_extra_review", "reviewed", "withdrawn"

log = logging.getLogger(__name__)

# Deliberation rows are read by shelf (services/common/shelves.py). A shelf
# read finding fewer applications than SPARSE makes the next read a wider
# shelf, more than DENSE a narrower one: a few reads of a few dozen rows each,
# whether the campaign holds 300 applications or 35,000.
SPARSE, DENSE = 12, 120


def reviews_by_juror(done_tasks: Iterable[Doc]) -> dict[str, int]:
    tally: dict[str, int] = {}
    for task in done_tasks:
        if task.get("claimed_by"):
            tally[task["claimed_by"]] = tally.get(task["claimed_by"], 0) + 1
    return tally


# A claim that finds nothing for its juror in the claim copy reads the
# campaign's claimable tasks again, at most this often (seconds).
REFRESH_ON_EMPTY = 2.0
# A claim reserves its application for the juror, then claims a task, within
# milliseconds; a reservation this old with no task of the application held
# or reviewed by that juror is what a claim cut short left (the database
# failing between the two writes): it is taken over, not kept forever.
STALE_RESERVATION = timedelta(minutes=2)
CONSOLIDATION_GRACE = timedelta(seconds=10)


# --- use cases -------------------------------------------------------------


# A new exception each time: one instance raised again and again keeps every
# raise's traceback chained on it (memory, and log lines growing without end).
def _not_holder() -> Conflict:
    return Conflict(
        "Vous ne détenez pas cette tâche de relecture (ou votre réservation a expiré).", "claim_not_held"
    )


def _no_task() -> NotFound:
    return NotFound(
        "Aucune tâche de relecture disponible pour vous dans cette campagne.", "no_task_available"
    )


def _lost_claim() -> Conflict:
    return Conflict("Cette tâche vient d'être prise par un autre juré.", "already_claimed")


class JuryDesk:
    """The jury's use cases over its repositories (see repository.py) and the
    outbox session (ledger writes that publish)."""

    def __init__(
        self, repos, outbox, lease, now, token_for=None, rng=random, snapshots=None, shelf_lists=None
    ):
        self.repos = repos
        self.snapshots = snapshots  # repository.TaskSnapshots, or None: scan on every claim
        self.shelf_lists = shelf_lists  # repository.ShelfLists, or None: read at every page
        self.outbox = outbox
        self.lease = lease  # how long a claim holds a task (JurySettings.claim_lease)
        self.now = now
        self.token_for = token_for
        self.rng = rng

    # -- jurors ---------------------------------------------------------

    def register_juror(self, data):
        taken = Conflict("Un juré est déjà inscrit avec cette adresse.", "juror_exists")
        juror_id = uuid.uuid4().hex
        if not self.repos.assignments.reserve_email(data["email"], juror_id):
            # The reservation names its juror. A registration that died between
            # its two writes left no juror: this one completes it under that id
            # (the ledger's create decides if two try at once, or if it was done).
            juror_id = self.repos.assignments.juror_of_email(data["email"])
            if juror_id is None or self.repos.jurors.get(juror_id) is not None:
                raise taken
        token = self.token_for(juror_id)
        doc = {
            "_id": juror_id,
            "name": data["name"],
            "email": data["email"],
            "department": data["department"].upper(),
            "conflicts": sorted({code.upper() for code in data.get("conflicts", [])}),
            "created_at": self.now,
        }
        event = (
            contracts.JUROR_REGISTERED,
            {
                "juror": {"id": juror_id, "name": doc["name"], "email": doc["email"]},
                "department": doc["department"],
            },  # the token is in the response only
        )
        self.outbox.create("jurors", doc, events=[event], conflict=taken)
        return {"id": juror_id, "token": token}

    def juror(self, juror_id, cached=False):
        if cached and self.snapshots is not None:
            juror = self.snapshots.juror(juror_id, self.repos.jurors.get)
        else:
            juror = self.repos.jurors.get(juror_id)
        if juror is None:
            raise NotFound("Juré introuvable.", "juror_not_found")
        return juror

    def jurors_by_email(self, email):
        """The juror registered with this address (sign-in by email link), as a list."""
        juror_id = self.repos.assignments.juror_of_email(email)
        juror = self.repos.jurors.get(juror_id) if juror_id else None
        return [{"id": juror["_id"], "name": juror["name"]}] if juror else []

    def jurors_with_load(self, limit: int = 1000) -> list[Doc]:
        """Every juror (at most `limit`), with the tasks they hold and the reviews they did."""
        return self.jurors_page(limit)["jurors"]

    def jurors_page(self, limit: int = 1000) -> Doc:
        """{"jurors": jurors_with_load, "tallies": the progress tallies their
        reviews in the campaigns in progress were read from}."""
        held, done, progress = self._load_by_juror()
        jurors = sorted(self.repos.jurors.all(), key=lambda j: j["name"].lower())[:limit]
        rows = [
            {
                "id": j["_id"],
                "name": j["name"],
                "email": j["email"],
                "department": j["department"],
                "conflicts": j.get("conflicts", []),
                "held": held.get(j["_id"], 0),
                "reviews_done": done.get(j["_id"], 0),
            }
            for j in jurors
        ]
        return {"jurors": rows, "tallies": progress}

    def _load_by_juror(self) -> tuple[dict[str, int], dict[str, int], list[Doc]]:
        """Tasks held and reviews done, per juror, over every campaign, and the
        progress tallies read. A released campaign's count is taken at its
        release (at the first read for one released before) and kept on its
        document, as nothing is reviewed after the release; a campaign in
        progress is read from its progress tally, as the campaign page is
        (none until its first count: 19 s at 3,500 collectivités when this
        list made it; and no read of every claim under way, 70,000 at
        national scale)."""
        held: dict[str, int] = {}
        done: dict[str, int] = {}
        progress = []
        for campaign in self.repos.campaigns.all():
            if not campaign.get("released_at"):
                read = self.campaign_progress(campaign["_id"])
                progress.append(read)
                tally = (read["counts"] or {}).get("reviews_by_juror", {})
                for juror_id, count in (read["counts"] or {}).get("held_by_juror", {}).items():
                    held[juror_id] = held.get(juror_id, 0) + count
            elif "reviews_by_juror" in campaign:
                tally = campaign["reviews_by_juror"]
            else:
                tally = reviews_by_juror(self.repos.tasks.reviewers_of_campaign(campaign["_id"]))
                self.repos.campaigns.save(campaign["_id"], {"reviews_by_juror": tally})
            for juror_id, count in tally.items():
                done[juror_id] = done.get(juror_id, 0) + count
        return held, done, progress

    def campaign_progress(self, campaign_year: int) -> Doc:
        """Reviews done and outstanding, and the jurors at work, for one campaign,
        as a tally (common/tallies.py)."""
        return tallies.read(self.repos.tallies, [campaign_year], self._count_progress, self.now)

    def refresh_tallies(self) -> int:
        return tallies.refresh_asked(self.repos.tallies, self._count_progress, self.now)

    def _count_progress(self, campaign_year: int) -> Doc:
        # Streamed, a few fields each: a national campaign's 70,000 tasks are
        # never held in memory at once.
        states: dict[str, int] = {}
        active: set[str] = set()
        by_juror: dict[str, int] = {}
        held: dict[str, int] = {}
        for task in self.repos.tasks.states_of_campaign(campaign_year):
            state = shown_state(task, self.now)
            states[state] = states.get(state, 0) + 1
            juror_id = task.get("claimed_by")
            if juror_id and task["state"] in (CLAIMED, DONE):
                active.add(juror_id)
                if task["state"] == DONE:
                    by_juror[juror_id] = by_juror.get(juror_id, 0) + 1
                elif held_by(task, juror_id, self.now):
                    held[juror_id] = held.get(juror_id, 0) + 1
        reviewed = disagreements = 0
        for app in self.repos.applications.states_of_campaign(campaign_year):
            reviewed += app["state"] == REVIEWED
            disagreements += bool(app.get("disagreement"))
        return {
            "tasks": states,
            "reviews_done": states.get(DONE, 0),
            "reviews_outstanding": states.get(OPEN, 0) + states.get(CLAIMED, 0),
            "jurors_active": len(active),
            "applications_reviewed": reviewed,
            "disagreements": disagreements,
            "reviews_by_juror": by_juror,
            "held_by_juror": held,
        }

    def juror_view(self, juror_id):
        juror = self.juror(juror_id)
        return {key: juror[key] for key in ("name", "email", "department", "conflicts")} | {
            "id": juror["_id"]
        }

    # -- events from submissions ----------------------------------------

    def campaign_opened(self, data):
        self.repos.campaigns.save(
            data["year"],
            {
                "enjeux": [item["code"] for item in data["enjeux"]],
                "mentions": [item["code"] for item in data["mentions"]],
                "reviews_per_application": data["reviews_per_application"],
            },
        )

    def results_released(self, data):
        """From the release on, no task of the campaign is claimed or reviewed:
        the reviews each juror did are counted once, for the jurors' list."""
        year = data["campaign_year"]
        tally = reviews_by_juror(self.repos.tasks.reviewers_of_campaign(year))
        self.repos.campaigns.save(year, {"released_at": data["released_at"], "reviews_by_juror": tally})
        if self.snapshots is not None:
            self.snapshots.drop(year)

    def _released(self, campaign_year):
        campaign = self.repos.campaigns.get(campaign_year)
        return bool(campaign and campaign.get("released_at"))

    def _check_not_released(self, campaign_year):
        if self._released(campaign_year):
            raise Conflict(
                f"Le palmarès {campaign_year} est publié : plus aucun dossier ne se prend ni ne se note.",
                "results_released",
            )

    def application_submitted(self, data):
        return self.applications_submitted([data])

    def applications_submitted(self, batch):
        """Creates each application's review tasks once (ids `<application>:<n>`),
        for many submissions in three inserts: their shelves, their applications,
        their tasks. No read first: an application stored before (a redelivered
        event, or a withdrawal seen first) loses its insert and is read then; a
        withdrawal handled between the two inserts inserts the tasks cancelled
        first (`_cancel_task`)."""
        fresh: dict[str, Doc] = {}
        for data in batch:
            fresh.setdefault(data["application_id"], self._application(data))
        # First: a page lists the (narrowest) shelves.
        shelves = {(app["campaign_year"], shelf(app["_id"], max(SHELF_WIDTHS))) for app in fresh.values()}
        self.repos.shelves.add_many(shelves)
        if self.shelf_lists is not None:
            for year, name in shelves:
                self.shelf_lists.add(year, name)
        inserted, existed = self.outbox.create_many("applications", list(fresh.values()))
        apps = inserted + [app for app in map(self.repos.applications.get, existed) if app is not None]
        tasks = [
            self._task(app, n)
            for app in apps
            if app["state"] != WITHDRAWN
            for n in range(1, app["expected"] + 1)
        ]
        created, _ = self.outbox.create_many("tasks", tasks)
        for task in created:
            self._remember(task)
        return len(created)

    def _application(self, data):
        app_id = data["application_id"]
        return {
            "_id": app_id,
            "campaign_year": data["campaign_year"],
            "collectivite": data["collectivite"],
            "enjeux": data["enjeux"],
            "mentions": data["mentions"],
            # The dossier its jurors read (GET /review-tasks/{id}/application).
            "services": data.get("services", []),
            "initiatives": data.get("initiatives", []),
            "submitted_at": data["submitted_at"],
            "expected": max(1, int(data["reviews_per_application"])),
            "extra_review": False,
            "state": REVIEWING,
            **shelf_fields(app_id),
            "created_at": self.now,
        }

    def _task(self, app, n):
        return {
            "_id": f"{app['_id']}:{n}",
            "application_id": app["_id"],
            "n": n,
            "campaign_year": app["campaign_year"],
            "collectivite": app["collectivite"],
            **shelf_fields(app["_id"]),
            "state": OPEN,
            "claimed_by": None,
            "lease_expires_at": None,
            "created_at": self.now,
        }

    def _create_task(self, app, n):
        task = self._create_ignoring_duplicate("tasks", self._task(app, n))
        self._remember(task)
        return 1 if task else 0

    def _create_ignoring_duplicate(self, collection, doc):
        try:
            return self.outbox.create(collection, doc)
        except Conflict:
            return None  # created before (a redelivered event): nothing to do

    def application_withdrawn(self, data):
        app_id = data["application_id"]
        app = self.repos.applications.get(app_id)
        if app is None:  # withdrawn before we saw it submitted: a tombstone stops later task creation
            self._create_ignoring_duplicate(
                "applications",
                {
                    "_id": app_id,
                    "campaign_year": data["campaign_year"],
                    "collectivite": data["collectivite"],
                    "enjeux": [],
                    "mentions": [],
                    "submitted_at": None,
                    "expected": 0,
                    "extra_review": False,
                    "state": WITHDRAWN,
                    "created_at": self.now,
                },
            )
            app = self.repos.applications.get(app_id)
        self._retry(lambda: self._set_app_state(app_id, WITHDRAWN))
        cancelled = 0
        expected = (app or {}).get("expected", 0)
        for n in range(1, expected + 2):  # +1: a possible extra review
            cancelled += self._retry(
                lambda n=n: self._cancel_task(app or {"_id": app_id}, n, missing_too=n <= expected)
            )
        return cancelled

    def _set_app_state(self, app_id, state):
        app = self.repos.applications.get(app_id)
        if app is not None and app["state"] != state:
            self.outbox.update("applications", app, {"state": state})
        return 0

    def _cancel_task(self, app, n, missing_too=False):
        """`missing_too`: a task of the submission not created yet is inserted
        cancelled, so that a submission batch still under way (its application
        stored, its tasks not yet) loses that insert instead of opening it."""
        task = self.repos.tasks.get(f"{app['_id']}:{n}")
        if task is None and missing_too:
            created = self._create_ignoring_duplicate(
                "tasks", dict(self._task(app, n), state=CANCELLED, cancelled_at=self.now)
            )
            self._remember(created)
            if created is not None:
                return 0
            task = self.repos.tasks.get(f"{app['_id']}:{n}")  # the submission's insert came first
        if task is None or task["state"] not in (OPEN, CLAIMED):
            return 0
        self._remember(self.outbox.update("tasks", task, {"state": CANCELLED, "cancelled_at": self.now}))
        return 1

    @staticmethod
    def _retry(step, attempts=10):
        """A step that re-reads its document; a concurrent change (Conflict) makes it read again."""
        for attempt in range(attempts):
            try:
                return step()
            except Conflict:
                if attempt == attempts - 1:
                    raise

    # -- tasks ------------------------------------------------------------

    def list_tasks(self, juror_id, state, campaign_year=None, after=None, limit=TASK_PAGE):
        """The juror's tasks in `state` by id, after task `after`: at most
        `limit`. Open: those they may claim, read shelf by shelf until the
        page is full, not every open task (70,000 at national scale); claimed
        or done: their own in that state, never all their tasks of every year
        (29 jurors listing theirs at once took the jury from 77 to 98 MiB at
        a tenth of national scale)."""
        juror = self.juror(juror_id)  # NotFound for a juror who is no more
        if state == OPEN:
            tasks = self._claimable_by(juror, campaign_year, after)
        elif state == DONE:
            tasks = self.repos.tasks.of_juror(juror_id, DONE, campaign_year, after, limit)
        else:
            # Held, or lapsed (shown open): the few under way, sorted by the database.
            own = self.repos.tasks.of_juror(juror_id, CLAIMED, campaign_year, after)
            tasks = (task for task in own if shown_state(task, self.now) == CLAIMED)
        return [task_view(task, self.now, juror_id) for task in itertools.islice(tasks, limit)]

    def _claimable_by(self, juror, campaign_year, after):
        """The tasks this juror may claim, by id after task `after`, in the
        campaigns in progress (or `campaign_year`), streamed shelf by shelf
        (services/common/shelves.py): each shelf one equality read, as
        FerretDB v1 pushes nothing else down (a page read by a range of ids,
        sorted and limited, took 17 s at 70,000 tasks, as long as them all)."""
        assigned = self.repos.assignments.applications_of(juror["_id"])
        width = max(SHELF_WIDTHS)
        # `after` is a task id, `<application id>:<n>`: its application's shelf first
        first = None if after is None else shelf(after.rsplit(":", 1)[0], width)
        if campaign_year:
            years = [] if self._released(campaign_year) else [campaign_year]
        else:
            years = sorted(c["_id"] for c in self.repos.campaigns.all() if not c.get("released_at"))
        for year in years:
            for name in self._shelves(year):
                if first is not None and name < first:
                    continue
                tasks = self.repos.tasks.on_shelf(year, width, name, summary=True)
                for task in sorted(tasks, key=lambda task: task["_id"]):
                    if (
                        (after is None or task["_id"] > after)
                        and claimable(task, self.now)
                        and not conflicted(juror, task["collectivite"])
                        and task["application_id"] not in assigned
                    ):
                        yield task

    def _shelves(self, campaign_year):
        """The campaign's narrowest shelves, in order."""
        if self.shelf_lists is None:
            return self.repos.shelves.of_campaign(campaign_year)
        return self.shelf_lists.of_campaign(campaign_year, self.repos.shelves.of_campaign)

    def claim(self, juror_id, campaign_year):
        """The next task this juror may review; see the module docstring."""
        self._check_not_released(campaign_year)
        juror = self.juror(juror_id, cached=True)
        lease = self.lease
        load = lambda: self.repos.tasks.scan_of_campaign(campaign_year)  # noqa: E731
        if self.snapshots is None:
            return self._claim_from(juror, ClaimIndex(load(), self.now), lease)
        index = self.snapshots.claim_index(campaign_year, load, self.now)
        try:
            return self._claim_from(juror, index, lease)
        except NotFound:
            # Nothing for them in the copy: it may lack what another replica
            # created or released. Its open tasks only: a claimed one whose lease
            # lapsed comes with the timer's refresh (70,000 claims may be under
            # way: not read every few seconds).
            if not self._refresh_claim_copy(campaign_year, (OPEN,), REFRESH_ON_EMPTY):
                raise
            return self._claim_from(juror, index, lease)

    def _refresh_claim_copy(self, campaign_year, states, within):
        return self.snapshots.refresh(
            campaign_year, lambda: self.repos.tasks.claimable_candidates(campaign_year, states), within
        )

    def refresh_claim_copies(self):
        """The timer's: each campaign's claim copy in this process catches up
        with the other replicas (open and claimed tasks: a lease another
        replica's claim let lapse); a released campaign's is let go."""
        refreshed = 0
        for year in self.snapshots.years() if self.snapshots is not None else []:
            if self._released(year):
                self.snapshots.drop(year)
            else:
                refreshed += self._refresh_claim_copy(year, (OPEN, CLAIMED), 0)
        return refreshed

    def _claim_from(self, juror, index, lease):
        for app_id, candidates in index.order(juror, self.now, self.rng):
            # A task past version 1 was claimed (or cancelled) before: no first-claim insert to try.
            started = index.started(app_id)
            nonce = None
            for candidate in candidates:
                task = self.repos.tasks.get(candidate["_id"], summary=True)  # the copy may be stale
                if task is None or not claimable(task, self.now):
                    self._remember(task)
                    continue
                if nonce is None:
                    nonce = uuid.uuid4().hex
                    if not self._reserve(juror["_id"], app_id, nonce):
                        nonce = None
                        break  # this juror holds (or held) a task of that application
                claimed = self._claim_task(task, juror, lease, maybe_first=not started)
                if claimed is not None:
                    self._remember(claimed)
                    return task_view(claimed, self.now, juror["_id"])
            if nonce is not None:
                self.repos.assignments.unreserve(juror["_id"], app_id, nonce)
        raise _no_task()

    def _reserve(self, juror_id, app_id, nonce):
        """The juror's reservation of the application: new, or taking over a
        stale one (STALE_RESERVATION) if no task of the application is theirs."""
        if self.repos.assignments.reserve(juror_id, app_id, nonce, self.now):
            return True
        held = self.repos.assignments.get(juror_id, app_id)
        if held is None or "nonce" not in held or as_utc(held["at"]) > self.now - STALE_RESERVATION:
            return False  # recent: a claim under way
        app = self.repos.applications.get(app_id) or {}
        juror = self.repos.jurors.get(juror_id)  # read again: another replica's cache may lag
        if juror is None or conflicted(juror, app.get("collectivite") or {}):
            return False  # a declared conflict keeps the reservation for good
        numbers = range(1, int(app.get("expected") or 2) + 1)
        tasks = [self.repos.tasks.get(f"{app_id}:{n}", summary=True) for n in numbers]
        if any(task and task.get("claimed_by") == juror_id for task in tasks):
            return False  # they hold or reviewed one (a lapsed claim another juror took is no review)
        log.warning("juror %s: a reservation of %s left by a claim cut short, taken over", juror_id, app_id)
        return self.repos.assignments.take_over(juror_id, app_id, held, nonce, self.now)

    def _remember(self, task):
        if task is not None and self.snapshots is not None:
            self.snapshots.remember(task)

    def _claim_task(self, task, juror, lease, maybe_first):
        # The marker designates a claim slot (task, version), not a claimer: whoever
        # wins that slot's ledger insert makes the application's first claim.
        slot = task["version"] + 1
        first = maybe_first and self.repos.review_starts.designates(task["application_id"], task["_id"], slot)
        event = (
            contracts.REVIEW_TASK_CLAIMED,
            {
                "task_id": task["_id"],
                "application_id": task["application_id"],
                "campaign_year": task["campaign_year"],
                "juror_id": juror["_id"],
                "collectivite": task["collectivite"],
                "first_claim": first,
            },
        )
        try:
            return self.outbox.update(
                "tasks",
                task,
                {
                    "state": CLAIMED,
                    "claimed_by": juror["_id"],
                    "claimed_at": self.now,
                    "lease_expires_at": self.now + lease,
                },
                events=[event],
                conflict=_lost_claim(),
            )
        except Conflict:
            return None  # someone else took this slot (and, if designated, sent the first claim)

    def dossier(self, juror_id, task_id):
        """What the holder of an unexpired claim reads before scoring: the
        collectivité and its application as submitted. Anyone else: Forbidden."""
        task = self.repos.tasks.get(task_id, summary=True)
        if task is None:
            raise NotFound("Tâche introuvable.", "task_not_found")
        if not held_by(task, juror_id, self.now):
            raise Forbidden(
                "Seul le juré qui détient cette tâche, pendant sa réservation, lit ce dossier.",
                "claim_not_held",
            )
        app = self.repos.applications.get(task["application_id"]) or {}
        return {
            "task": task_view(task, self.now, juror_id),
            "application": {
                "id": task["application_id"],
                "campaign_year": task["campaign_year"],
                "collectivite": task["collectivite"],
                "services": app.get("services", []),
                "initiatives": app.get("initiatives", []),
                "enjeux": app.get("enjeux", []),
                "mentions": app.get("mentions", []),
                "submitted_at": app.get("submitted_at"),
            },
        }

    def declare_conflict(self, juror_id, task_id):
        """ "Je connais cette collectivité": the juror's conflicts gain its code
        (for good: every campaign), the task goes back to the pool, and the
        juror's assignment to the application stays, so they never claim it again."""
        task = self.repos.tasks.get(task_id, summary=True)
        if task is None:
            raise NotFound("Tâche introuvable.", "task_not_found")
        if not held_by(task, juror_id, self.now):
            raise _not_holder()
        code = str(task["collectivite"].get("insee_code") or task["collectivite"]["id"]).upper()

        def add_conflict():
            juror = self.juror(juror_id)
            if code not in juror.get("conflicts", []):
                juror = self.outbox.update(
                    "jurors", juror, {"conflicts": sorted({*juror.get("conflicts", []), code})}
                )
            return juror

        juror = self._retry(add_conflict)
        if self.snapshots is not None:
            self.snapshots.forget_juror(juror_id)
        released = self.outbox.update(
            "tasks",
            task,
            {"state": OPEN, "claimed_by": None, "lease_expires_at": None, "released_at": self.now},
            conflict=_not_holder(),
        )
        self._remember(released)
        return dict(task_view(released, self.now, juror_id), conflicts=juror["conflicts"])

    def release(self, juror_id, task_id):
        task = self.repos.tasks.get(task_id)
        if task is None:
            raise NotFound("Tâche introuvable.", "task_not_found")
        # An expired claim may still be released by its holder, as long as nobody re-claimed it.
        if task["state"] != CLAIMED or task.get("claimed_by") != juror_id:
            raise _not_holder()
        released = self.outbox.update(
            "tasks",
            task,
            {
                "state": OPEN,
                "claimed_by": None,
                "lease_expires_at": None,
                "released_at": self.now,
            },
            conflict=_not_holder(),
        )
        self.repos.assignments.release(juror_id, task["application_id"])
        self._remember(released)
        return task_view(released, self.now, juror_id)

    def submit_review(self, juror_id, task_id, data):
        task = self.repos.tasks.get(task_id)
        if task is None:
            raise NotFound("Tâche introuvable.", "task_not_found")
        if not held_by(task, juror_id, self.now):
            raise _not_holder()
        self._check_not_released(task["campaign_year"])
        app = self.repos.applications.get(task["application_id"])
        check_review(data, app["enjeux"], app["mentions"])
        review = {
            "juror_id": juror_id,
            "scores": data["scores"],
            "arobases": data["arobases"],
            "mentions": data["mentions"],
            "comment": data.get("comment", ""),
            "submitted_at": self.now,
        }
        done = dict(task, review=review)
        event = (
            contracts.REVIEW_SUBMITTED,
            {
                "task_id": task_id,
                "application_id": task["application_id"],
                "campaign_year": task["campaign_year"],
                "review": review_ref(done),
            },
        )
        # Decided by the change `tasks:<id>:<version+1>`: a claimer who saw the lease
        # run out and took the task first makes this a 409.
        # The consolidation this review owes, recorded first: a crash after the
        # review leaves it to the sweep (sweep_consolidations), never lost.
        mark = self.repos.pending_consolidations.mark(task["application_id"], self.now)
        done = self.outbox.update(
            "tasks", task, {"state": DONE, "review": review}, events=[event], conflict=_not_holder()
        )
        self._remember(done)
        self._consolidate_owed(task["application_id"], [mark], known=(app, done))
        return task_view(done, self.now, juror_id)

    def _consolidate_owed(self, app_id, marks, known=None):
        """Run the consolidation a review owes. The marker stays for the sweep when
        it failed, or when it found nothing to do although every review is in (a
        read behind the writes); only the markers it was given are cleared, never
        one a concurrent review set meanwhile. `known`: the application and the
        task the reviewer just read and wrote, so that neither is read again."""
        first = [known] if known else []  # the first try only: a retry reads afresh
        try:
            step = self._retry(lambda: self.consolidate(app_id, *(first.pop() if first else ())))
        except Exception:
            log.warning("consolidation of %s left to the sweep", app_id, exc_info=True)
            return False
        if step is None and self._reviews_all_in(app_id, known[1] if known else None):
            log.warning("consolidation of %s found reviews missing that are in: left to the sweep", app_id)
            return False
        for mark in marks:
            self.repos.pending_consolidations.clear(app_id, mark)
        return True

    def _reviews_all_in(self, app_id, done=None):
        app = self.repos.applications.get(app_id)
        if app is None or app["state"] not in (REVIEWING, WAITING_EXTRA):
            return False
        return all(task is not None and task["state"] == DONE for task in self._tasks(app, done))

    def _tasks(self, app, done=None):
        """The application's expected tasks, with their reviews. `done`: a task
        the caller has just marked done (final), not read again."""
        return [
            done if done is not None and done["_id"] == task_id else self.repos.tasks.get(task_id)
            for task_id in (f"{app['_id']}:{n}" for n in range(1, app["expected"] + 1))
        ]

    def sweep_consolidations(self, grace=CONSOLIDATION_GRACE):
        """Consolidations owed and not done (older than `grace`, so as not to race
        the reviewer's own call): run each until it has happened, once in effect."""
        owed: dict[str, list[str]] = {}
        for app_id, mark in self.repos.pending_consolidations.due(self.now - grace):
            owed.setdefault(app_id, []).append(mark)
        return sum(1 for app_id, marks in owed.items() if self._consolidate_owed(app_id, marks))

    # -- consolidation ------------------------------------------------------

    def consolidate(self, app_id, app=None, done=None):
        """Once every expected review is in: propose, or open the one extra review.
        Each reviewer writes its review, then reads them all: the last one sees
        every review; a concurrent consolidation loses on the application's version,
        so `app` may be the reviewer's own earlier read (`done`: see _tasks)."""
        app = app or self.repos.applications.get(app_id)
        if app is None or app["state"] not in (REVIEWING, WAITING_EXTRA):
            return None
        tasks = self._tasks(app, done)
        if any(task is None or task["state"] != DONE for task in tasks):
            return None
        reviews = [review_ref(task) for task in tasks]
        step, result = next_step(reviews, app["enjeux"], app["mentions"], app["extra_review"])
        # The deliberation row reads them here, not from the tasks.
        submitted = [
            dict(ref, submitted_at=isoformat(task["review"]["submitted_at"]))
            for ref, task in zip(reviews, tasks, strict=True)
        ]
        if step == "extra_review":
            extra = dict(app, expected=app["expected"] + 1)
            self._create_task(extra, extra["expected"])
            self.outbox.update(
                "applications",
                app,
                {
                    "expected": extra["expected"],
                    "extra_review": True,
                    "state": WAITING_EXTRA,
                    "disagreement": True,
                    **disputed_fields(app_id, True),
                    "spread": result["spread"],
                },
            )
            return step
        event = (
            contracts.APPLICATION_REVIEWED,
            {
                "application_id": app_id,
                "campaign_year": app["campaign_year"],
                "collectivite": app["collectivite"],
                "proposal": result["proposal"],
                "reviews": reviews,
                "disagreement": result["disagreement"],
            },
        )
        self.outbox.update(
            "applications",
            app,
            {
                "state": REVIEWED,
                "proposal": result["proposal"],
                "disagreement": result["disagreement"],
                **disputed_fields(app_id, result["disagreement"]),
                "spread": result["spread"],
                "reviews": submitted,
                "reviewed_at": self.now,
            },
            events=[event],
        )
        return step

    def deliberation(self, campaign_year):
        """Every application of the campaign: reviews, proposal (None until
        consolidated), disagreement flag, per-enjeu spread, review state; by name."""
        rows = deliberation_rows(
            self.repos.applications.of_campaign(campaign_year),
            self.repos.tasks.of_campaign(campaign_year),
        )
        return sorted(rows, key=lambda row: (row["collectivite"].get("name", ""), row["application_id"]))

    def deliberation_row(self, app_id):
        """One application's row (None before it reaches the jury): its own
        document and its own tasks, read by id."""
        app = self.repos.applications.get(app_id)
        if app is None:
            return None
        numbers = range(1, app["expected"] + 1) if "reviews" not in app else ()
        tasks = [task for task in (self.repos.tasks.get(f"{app_id}:{n}") for n in numbers) if task]
        return deliberation_rows([app], tasks)[0]

    def deliberation_page(self, campaign_year, after=None, limit=200, disagreements=False):
        """The rows after the application `after`, by application id, at most
        `limit`, read shelf by shelf (services/common/shelves.py); `next` is the
        last row's id when more follow; `shelves` the [width, shelf] read.
        `disagreements`: only the applications whose reviewers disagreed, read
        by their own shelves (`disputed_shelf_<width>`, services/common/shelves.py)."""
        # Disagreements are fewer: their reads begin on the middle shelves (a
        # national campaign with one in twenty has about 17 on each).
        width = SHELF_WIDTHS[len(SHELF_WIDTHS) // 2] if disagreements else max(SHELF_WIDTHS)
        shelves = self._shelves(campaign_year)
        if after is not None:  # those before the cursor's hold only rows before it
            shelves = [name for name in shelves if name >= shelf(after, width)]
        rows: list[Doc] = []
        read: list[list[object]] = []  # [width, shelf] of each read: where the page's decisions are
        next_shelf = 0
        position = after  # a wider shelf may hold rows already read
        while next_shelf < len(shelves) and len(rows) <= limit:
            group = shelf(shelves[next_shelf], width)
            read.append([width, group])
            # A wider group may hold rows already read (filtered below): the
            # narrower reads that would avoid them were no faster
            # (bench_deliberation.py, 3,500 applications, 50 rows a page).
            while next_shelf < len(shelves) and shelves[next_shelf].startswith(group):
                next_shelf += 1
            apps = self.repos.applications.on_shelf(campaign_year, width, group, disagreements)
            found = len(apps)
            apps = [app for app in apps if position is None or app["_id"] > position]
            if apps:  # the tasks only for applications not consolidated yet
                unreviewed = any("reviews" not in app for app in apps)
                tasks = self.repos.tasks.on_shelf(campaign_year, width, group) if unreviewed else []
                rows += deliberation_rows(apps, tasks)
                position = rows[-1]["application_id"]
            if found < SPARSE and width > min(SHELF_WIDTHS):
                width -= 1
            elif found > DENSE and width < max(SHELF_WIDTHS):
                width += 1
        more = len(rows) > limit
        rows = rows[:limit]
        return {"rows": rows, "next": rows[-1]["application_id"] if more else None, "shelves": read}

    # -- digest -------------------------------------------------------------

    def send_digests(self):
        """One `review_tasks_available` per juror and campaign when tasks they may
        claim appeared since their last digest; the batch key (juror, campaign,
        newest task time) is a uniquely keyed ledger record, so two replicas
        running the timer send it once."""
        released: dict[int, bool] = {}
        jurors = self.repos.jurors.all()
        declared = {code for juror in jurors for code in juror.get("conflicts", [])}
        open_tasks: dict[int, OpenTasks] = {}
        # Who holds or reviewed a task of an application gets none of its others
        # (the claim's rule): read from these campaigns' tasks, not from every
        # assignment ever stored.
        assigned: dict[str, set[str]] = {}
        for task in self.repos.tasks.claimable_candidates():
            year = task["campaign_year"]
            if year not in released:
                released[year] = self._released(year)
            if released[year]:
                continue
            if claimable(task, self.now):
                open_tasks.setdefault(year, OpenTasks(declared)).add(task)
            if task["state"] == CLAIMED and task.get("claimed_by"):
                assigned.setdefault(task["claimed_by"], set()).add(task["application_id"])
        for year in open_tasks:
            for task in self.repos.tasks.reviewers_of_campaign(year):
                if task.get("claimed_by"):
                    assigned.setdefault(task["claimed_by"], set()).add(task["application_id"])
        sent = 0
        for juror in jurors if open_tasks else []:
            for year, tasks in open_tasks.items():
                count, newest = tasks.for_juror(juror, assigned.get(juror["_id"], ()))
                if newest is None:
                    continue  # nothing they may claim
                seen = self.repos.digests.watermark(juror["_id"], year)
                if seen is not None and newest <= seen:
                    continue
                event = (
                    contracts.REVIEW_TASKS_AVAILABLE,
                    {
                        "campaign_year": year,
                        "open_tasks": count,
                        "juror": {"id": juror["_id"], "name": juror["name"], "email": juror["email"]},
                    },
                )
                try:
                    self.outbox.record(f"digest:{juror['_id']}:{year}:{isoformat(newest)}", [event])
                    sent += 1
                except Conflict:
                    pass  # another replica sent this batch
                self.repos.digests.set_watermark(juror["_id"], year, newest)
        return sent


def deliberation_rows(apps: list[Doc], tasks: list[Doc]) -> list[Doc]:
    """One row per application, by id; its reviews as its consolidation
    stored them, else from its tasks (with their reviews)."""
    by_app: dict[str, list[Doc]] = {}
    for task in tasks:
        by_app.setdefault(task["application_id"], []).append(task)
    rows = []
    for app in sorted(apps, key=lambda app: app["_id"]):
        if "reviews" in app:
            reviews = app["reviews"]
        else:
            own = sorted(by_app.get(app["_id"], []), key=lambda t: t["n"])
            reviews = [
                dict(review_ref(task), submitted_at=isoformat(task["review"]["submitted_at"]))
                for task in own
                if task["state"] == DONE
            ]
        spread = app.get("spread") or (
            score_spread([r["scores"] for r in reviews], app["enjeux"]) if reviews else {}
        )
        rows.append(
            {
                "application_id": app["_id"],
                "campaign_year": app["campaign_year"],
                "collectivite": app["collectivite"],
                "proposal": app.get("proposal"),
                "reviews": reviews,
                "disagreement": bool(app.get("disagreement", False)),
                "spread": spread,
                "review_state": app["state"],
                "reviews_expected": app["expected"],
                "reviews_done": len(reviews),
            }
        )
    return rows
