"""Who may review what, and for how long (pure rules): a task's states, the
conflicts of department and declared ones, claim leases, the order in which
a juror is offered tasks, and a task as the API shows it."""

import heapq
import random
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from services.common.clock import isoformat
from services.common.types import Doc

OPEN, CLAIMED, DONE, CANCELLED = "open", "claimed", "done", "cancelled"
# A task's document, or what a claim copy keeps of it (ClaimTask): the rules read either.
Task = Mapping[str, Any]


def conflicted(juror: Doc, collectivite: Mapping[str, Any]) -> bool:
    """A juror never reviews a collectivité of their own department, nor one
    they declared (INSEE or SIREN code; for a territoire, any member commune)."""
    if str(juror["department"]).upper() == str(collectivite.get("department", "")).upper():
        return True
    declared = {str(code).upper() for code in juror.get("conflicts", [])}
    codes = {collectivite.get("insee_code"), collectivite.get("id"), *collectivite.get("member_communes", [])}
    return any(code and str(code).upper() in declared for code in codes)


# What ordering a claim needs of a task (ClaimIndex; of its collectivité,
# what conflicted() reads): all a claim copy keeps (a national campaign's
# copy holds 70,000 tasks).
_CLAIM_COLLECTIVITE = ("id", "insee_code", "department", "member_communes")


class ClaimTask(Mapping[str, Any]):
    """A task as a claim copy keeps it: the fields a claim orders by, in slots
    (a national copy holds 70,000; as dicts they took 1.6 times the memory:
    tests/bench/bench_claim_index.py). A read-only mapping of those fields,
    as the task's document is, so the rules of this module apply to both."""

    __slots__ = (
        "_id",
        "application_id",
        "n",
        "state",
        "claimed_by",
        "lease_expires_at",
        "version",
        "collectivite",
    )

    def __init__(self, task: Task) -> None:
        self._id = task["_id"]
        # The same few strings thousands of times (an application's tasks, a
        # juror's claims, the states): one object each.
        self.application_id = sys.intern(task["application_id"])
        self.n = task["n"]
        self.state = sys.intern(task["state"])
        claimed_by = task.get("claimed_by")
        self.claimed_by = sys.intern(claimed_by) if isinstance(claimed_by, str) else claimed_by
        self.lease_expires_at = task.get("lease_expires_at")
        self.version = task.get("version", 0)
        collectivite = task.get("collectivite") or {}
        self.collectivite = {key: collectivite[key] for key in _CLAIM_COLLECTIVITE if key in collectivite}

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except (AttributeError, TypeError):
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default) if isinstance(key, str) else default

    def __iter__(self) -> Iterator[str]:
        return iter(self.__slots__)

    def __len__(self) -> int:
        return len(self.__slots__)


def claim_fields(task: Task) -> ClaimTask:
    return task if isinstance(task, ClaimTask) else ClaimTask(task)


def lease_expired(task: Task, now: datetime) -> bool:
    expires = task.get("lease_expires_at")
    return expires is not None and expires <= now


def claimable(task: Task, now: datetime) -> bool:
    """Open, or claimed with a lease that ran out (the task is back in the pool)."""
    return task["state"] == OPEN or (task["state"] == CLAIMED and lease_expired(task, now))


def held_by(task: Task, juror_id: str, now: datetime) -> bool:
    return task["state"] == CLAIMED and task.get("claimed_by") == juror_id and not lease_expired(task, now)


def lease_duration(config: Mapping[str, Any]) -> timedelta:
    seconds = config.get("CLAIM_LEASE_SECONDS")
    if seconds not in (None, ""):
        return timedelta(seconds=float(seconds))
    return timedelta(hours=float(config.get("CLAIM_LEASE_HOURS") or 48))


def busy(task: Task, now: datetime) -> bool:
    """Reviewed, or under review by a claim whose lease holds."""
    return task["state"] == DONE or (task["state"] == CLAIMED and not lease_expired(task, now))


class ClaimIndex:
    """A campaign's tasks arranged for claiming: by application, the
    applications with a claimable task pooled by load (reviews done or under
    way), the applications each juror claimed a task of. Built once per copy
    of the task list and kept up to date task by task (`update`), so a claim
    looks at a few applications, not at every task of the campaign (at 70,000
    tasks, ordering them all took half a second of CPU per claim).

    Leases are kept in a heap by end: a claim first puts back in the pool the
    applications whose leases ran out. Only a hint, as the copy is: a claim
    reads its candidate again and a uniquely keyed insert decides."""

    def __init__(self, tasks: Iterable[Doc], now: datetime) -> None:
        self.now = now  # the latest instant a claim looked at the pool
        self._tasks: dict[str, dict[str, ClaimTask]] = {}  # application -> task id -> task
        self._claimed: dict[str, set[str]] = {}  # juror -> applications they claimed a task of
        self._pool: dict[int, dict[str, None]] = {}  # load -> applications with a claimable task
        self._load: dict[str, int] = {}  # application in the pool -> its load
        self._leases: list[tuple[datetime, str]] = []  # (lease end, application), a heap
        for task in tasks:
            self._add(task)
        for app_id in self._tasks:
            self._place(app_id)

    def _add(self, document: Task) -> None:
        task = claim_fields(document)
        siblings = self._tasks.setdefault(task.application_id, {})
        for sibling in siblings.values():  # one collectivité object per application, not one per task
            if sibling.collectivite == task.collectivite:
                task.collectivite = sibling.collectivite
                break
        siblings[task._id] = task
        if task.get("claimed_by"):
            self._claimed.setdefault(task["claimed_by"], set()).add(task["application_id"])
        if task["state"] == CLAIMED and task.get("lease_expires_at"):
            heapq.heappush(self._leases, (task["lease_expires_at"], task["application_id"]))

    def _place(self, app_id: str) -> None:
        if app_id in self._load:
            del self._pool[self._load.pop(app_id)][app_id]
        tasks = self._tasks[app_id].values()
        if any(claimable(task, self.now) for task in tasks):
            load = sum(1 for task in tasks if busy(task, self.now))
            self._pool.setdefault(load, {})[app_id] = None
            self._load[app_id] = load

    def update(self, task: Doc) -> None:
        """A task as this process last wrote or read it."""
        self._add(task)
        self._place(task["application_id"])

    def learn(self, task: Doc) -> None:
        """A task as read or written: kept if the index knew an earlier version
        or none. (The same version again changes nothing: every write of a task
        makes a new one, and a refresh reads thousands unchanged.)"""
        known = self._tasks.get(task["application_id"], {}).get(task["_id"])
        if known is None or known.get("version", 0) < task.get("version", 0):
            self.update(task)

    def started(self, app_id: str) -> bool:
        """A task of the application was claimed (or cancelled) before: past version 1."""
        return any(task["version"] > 1 for task in self._tasks.get(app_id, {}).values())

    def order(self, juror: Doc, now: datetime, rng: Any = random) -> Iterator[tuple[str, list[ClaimTask]]]:
        """Candidate tasks for this juror, grouped by application, the
        applications with the fewest reviews first; among equals, from a
        random place, so concurrent claimers spread out instead of all racing
        for the same task. Lazy: a claim stops at its first success."""
        self.now = max(self.now, now)
        while self._leases and self._leases[0][0] <= self.now:  # back in the pool
            self._place(heapq.heappop(self._leases)[1])
        own = self._claimed.get(juror["_id"], set())  # their guard would refuse them anyway
        for load in sorted(self._pool):
            apps = list(self._pool[load])
            first = rng.randrange(len(apps)) if apps else 0
            for app_id in apps[first:] + apps[:first]:
                if app_id in own:
                    continue
                candidates = [
                    task
                    for task in self._tasks[app_id].values()
                    if claimable(task, now) and not conflicted(juror, task["collectivite"])
                ]
                if candidates:
                    yield app_id, sorted(candidates, key=lambda task: task["n"])


class OpenTasks:
    """A campaign's claimable tasks, arranged to tell each juror's digest how
    many they may claim and when the newest appeared without a pass over every
    task per juror (300 jurors × 70,000 tasks): counted by department, and
    the few a juror's declared conflicts or own applications take away looked
    up by code and by application. The same rule as `conflicted`.

    `declared`: every code some juror declared as a conflict. Only those are
    looked up, so only the few tasks with one of them are kept by code (kept
    by every code, 70,000 tasks took twice the memory at each digest:
    tests/bench/bench_claim_index.py)."""

    def __init__(self, declared: Iterable[str]) -> None:
        self._declared = {str(code).upper() for code in declared}
        self._department: dict[str, str] = {}  # task -> its collectivité's department
        self._by_department: dict[str, list[tuple[datetime, str]]] = {}  # (created, task), newest first
        self._by_code: dict[str, list[str]] = {}  # declared INSEE, SIREN or member commune -> tasks
        self._by_application: dict[str, list[str]] = {}
        self._sorted = True

    def add(self, task: Doc) -> None:
        collectivite = task["collectivite"]
        department = sys.intern(str(collectivite.get("department", "")).upper())  # a hundred, 70,000 times
        self._department[task["_id"]] = department
        self._by_department.setdefault(department, []).append((task["created_at"], task["_id"]))
        codes = {
            collectivite.get("insee_code"),
            collectivite.get("id"),
            *collectivite.get("member_communes", []),
        }
        for code in {str(code).upper() for code in codes if code} & self._declared:
            self._by_code.setdefault(code, []).append(task["_id"])
        self._by_application.setdefault(task["application_id"], []).append(task["_id"])
        self._sorted = False

    def for_juror(self, juror: Doc, assigned: Iterable[str]) -> tuple[int, datetime | None]:
        """How many of these tasks the juror may claim (not of their department,
        nor of a declared conflict, nor of an application in `assigned`), and
        when the newest of those was created."""
        if not self._sorted:
            for tasks in self._by_department.values():
                tasks.sort(reverse=True)
            self._sorted = True
        own = str(juror["department"]).upper()
        taken: set[str] = set()
        for code in {str(code).upper() for code in juror.get("conflicts", [])}:
            taken.update(self._by_code.get(code, ()))
        for app_id in assigned:
            taken.update(self._by_application.get(app_id, ()))
        taken = {task_id for task_id in taken if self._department[task_id] != own}
        count = len(self._department) - len(self._by_department.get(own, ())) - len(taken)
        newest = None
        for department, tasks in self._by_department.items():
            if department != own:
                created = next((created for created, task_id in tasks if task_id not in taken), None)
                if created is not None and (newest is None or created > newest):
                    newest = created
        return count, newest


def claim_order(
    tasks: Sequence[Doc], juror: Doc, now: datetime, rng: Any = random
) -> list[tuple[str, list[ClaimTask]]]:
    """Every candidate of ClaimIndex.order at once (a small list, or a test)."""
    return list(ClaimIndex(tasks, now).order(juror, now, rng))


def shown_state(task: Doc, now: datetime) -> str:
    """A task's state as API.md shows it: an expired claim shows as open."""
    return OPEN if task["state"] == CLAIMED and lease_expired(task, now) else task["state"]


def task_view(task: Doc, now: datetime, viewer: str | None = None) -> Doc:
    """A task as API.md shows it; an expired claim shows as open."""
    collectivite = task["collectivite"]
    state = shown_state(task, now)
    view = {
        "id": task["_id"],
        "application_id": task["application_id"],
        "campaign_year": task["campaign_year"],
        "collectivite": {
            key: collectivite.get(key)
            for key in ("id", "insee_code", "name", "category", "department", "region")
        },
        "state": state,
    }
    if state in (CLAIMED, DONE) and (viewer is None or task.get("claimed_by") == viewer):
        view["claimed_by"] = task.get("claimed_by")
        if state == CLAIMED:
            view["lease_expires_at"] = isoformat(task["lease_expires_at"])
    return view
