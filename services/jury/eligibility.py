"""Who may review what, and for how long (pure rules): a task's states, the
conflicts of department and declared ones, claim leases, the order in which
a juror is offered tasks, and a task as the API shows it."""

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from services.common.clock import isoformat
from services.common.types import Doc

OPEN, CLAIMED, DONE, CANCELLED = "open", "claimed", "done", "cancelled"


def conflicted(juror: Doc, collectivite: Doc) -> bool:
    """A juror never reviews a collectivité of their own department, nor one
    they declared (INSEE or SIREN code; for a territoire, any member commune)."""
    if str(juror["department"]).upper() == str(collectivite.get("department", "")).upper():
        return True
    declared = {str(code).upper() for code in juror.get("conflicts", [])}
    codes = {collectivite.get("insee_code"), collectivite.get("id"), *collectivite.get("member_communes", [])}
    return any(code and str(code).upper() in declared for code in codes)


def lease_expired(task: Doc, now: datetime) -> bool:
    expires = task.get("lease_expires_at")
    return expires is not None and expires <= now


def claimable(task: Doc, now: datetime) -> bool:
    """Open, or claimed with a lease that ran out (the task is back in the pool)."""
    return task["state"] == OPEN or (task["state"] == CLAIMED and lease_expired(task, now))


def held_by(task: Doc, juror_id: str, now: datetime) -> bool:
    return task["state"] == CLAIMED and task.get("claimed_by") == juror_id and not lease_expired(task, now)


def lease_duration(config: Mapping[str, Any]) -> timedelta:
    seconds = config.get("CLAIM_LEASE_SECONDS")
    if seconds not in (None, ""):
        return timedelta(seconds=float(seconds))
    return timedelta(hours=float(config.get("CLAIM_LEASE_HOURS") or 48))


def application_load(tasks: Iterable[Doc], now: datetime) -> dict[str, int]:
    """Reviews done or under way per application (fewest first when claiming)."""
    load: dict[str, int] = {}
    for task in tasks:
        busy = task["state"] == DONE or (task["state"] == CLAIMED and not lease_expired(task, now))
        load[task["application_id"]] = load.get(task["application_id"], 0) + (1 if busy else 0)
    return load


def claim_order(
    tasks: Sequence[Doc], juror: Doc, now: datetime, rng: Any = random
) -> list[tuple[str, list[Doc]]]:
    """Candidate tasks for this juror, grouped by application, the application
    with the fewest reviews first. Applications of equal load are shuffled so
    concurrent claimers spread out instead of all racing for the same task."""
    load = application_load(tasks, now)
    # Applications this juror holds or reviewed: their guard would refuse them anyway.
    own = {task["application_id"] for task in tasks if task.get("claimed_by") == juror["_id"]}
    groups: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        if (
            task["application_id"] not in own
            and claimable(task, now)
            and not conflicted(juror, task["collectivite"])
        ):
            groups.setdefault(task["application_id"], []).append(task)
    keys = list(groups)
    rng.shuffle(keys)
    keys.sort(key=lambda app: load.get(app, 0))
    return [(app, sorted(groups[app], key=lambda t: t["n"])) for app in keys]


def task_view(task: Doc, now: datetime, viewer: str | None = None) -> Doc:
    """A task as API.md shows it; an expired claim shows as open."""
    collectivite = task["collectivite"]
    state = OPEN if task["state"] == CLAIMED and lease_expired(task, now) else task["state"]
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
