"""JuryDesk use cases over the real repositories, ledger and outbox session,
in memory (tests/unit/fakes.py): claims, leases, conflicts, consolidation."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import Conflict, Forbidden, NotFound
from services.common.shelves import SHELF_WIDTHS, disputed_fields, shelf
from services.jury.logic import CLAIMED, DONE, OPEN, REVIEWED, WAITING_EXTRA, JuryDesk
from services.jury.repository import Repositories, ShelfLists, TaskSnapshots, ensure_indexes
from tests.unit.fakes import MemoryOutbox

T0 = datetime(2017, 10, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(hours=48)
YEAR = 2017


def collectivite(insee, department, name=None, kind="commune", members=()):
    return {
        "id": f"col-{insee}",
        "insee_code": insee,
        "name": name or f"Commune {insee}",
        "kind": kind,
        "category": "territoire" if kind == "epci" else "ville",
        "department": department,
        "region": "Bourgogne-Franche-Comté",
        "population": 12000,
        "email": f"mairie@{insee}.fr",
        "member_communes": list(members),
    }


BESANCON = collectivite("25056", "25", "Besançon")
GRENOBLE = collectivite("38185", "38", "Grenoble")


class Jury:
    """One jury database; `desk(now)` is what one worker gets at that moment."""

    def __init__(self):
        self.out = MemoryOutbox()
        self.repos = Repositories(self.out.db)
        self.snapshots = None
        self.shelf_lists = None

    def desk(self, now=T0, other_replica=False):
        return JuryDesk(
            self.repos,
            self.out.session,
            timedelta(hours=48),
            now,
            token_for=lambda juror_id: f"token-{juror_id}",
            rng=random.Random(7),
            snapshots=None if other_replica else self.snapshots,
            shelf_lists=None if other_replica else self.shelf_lists,
        )

    def juror(self, name, department="75", conflicts=()):
        data = {"name": name, "email": f"{name.lower()}@jury.fr", "department": department}
        return self.desk().register_juror(dict(data, conflicts=list(conflicts)))["id"]

    def submit(self, app_id, col, reviews=2, year=YEAR, other_replica=False):
        if self.repos.campaigns.get(year) is None:  # its opening came first
            self.desk().campaign_opened(
                {"year": year, "enjeux": [{"code": "e1"}], "mentions": [], "reviews_per_application": reviews}
            )
        return self.desk(other_replica=other_replica).application_submitted(
            {
                "application_id": app_id,
                "campaign_year": year,
                "collectivite": col,
                "enjeux": ["e1", "e2"],
                "mentions": ["teletravail", "accessibilite"],
                "submitted_at": "2017-06-01T10:00:00+00:00",
                "reviews_per_application": reviews,
            }
        )

    def review(self, juror_id, task_id, arobases, mentions=(), now=T0):
        data = {"scores": {"e1": arobases, "e2": arobases}, "arobases": arobases, "mentions": list(mentions)}
        return self.desk(now).submit_review(juror_id, task_id, data)


@pytest.fixture
def jury():
    return Jury()


# -- registration ------------------------------------------------------------


def test_a_juror_registers_once_per_address(jury):
    jury.juror("Ada")
    with pytest.raises(Conflict) as refused:
        jury.juror("Ada")
    assert refused.value.code == "juror_exists"
    assert [p["juror"]["name"] for p in jury.out.payloads("juror_registered")] == ["Ada"]


def test_a_registration_that_died_between_its_two_writes_does_not_block_the_address(jury, monkeypatch):
    def crash(*args, **kwargs):
        raise ConnectionError("database gone")

    with monkeypatch.context() as patched:
        patched.setattr(jury.out.session, "create", crash)
        with pytest.raises(ConnectionError):
            jury.juror("Ada")  # the address reserved, no juror written
    ada = jury.juror("Ada")  # the same address again: completes the orphaned reservation
    assert jury.repos.jurors.get(ada)["name"] == "Ada"
    assert jury.desk().jurors_by_email("ada@jury.fr") == [{"id": ada, "name": "Ada"}]
    with pytest.raises(Conflict) as refused:
        jury.juror("Ada")
    assert refused.value.code == "juror_exists"
    assert [p["juror"]["id"] for p in jury.out.payloads("juror_registered")] == [ada]


# -- claims --------------------------------------------------------------------


def test_two_jurors_claim_the_two_tasks_of_one_application(jury):
    assert jury.submit("app-1", BESANCON) == 2
    ada, bob = jury.juror("Ada"), jury.juror("Bob")

    first = jury.desk().claim(ada, YEAR)
    second = jury.desk().claim(bob, YEAR)

    assert {first["id"], second["id"]} == {"app-1:1", "app-1:2"}
    assert first["state"] == second["state"] == CLAIMED
    assert first["lease_expires_at"] == (T0 + LEASE).isoformat()
    claims = jury.out.payloads("review_task_claimed")
    assert [(c["juror_id"], c["first_claim"]) for c in claims] == [(ada, True), (bob, False)]
    with pytest.raises(NotFound) as none_left:
        jury.desk().claim(jury.juror("Cleo"), YEAR)
    assert none_left.value.code == "no_task_available"


def test_a_reservation_left_by_a_claim_cut_short_is_taken_over_later(jury):
    jury.submit("app-1", BESANCON)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    # The database failed between Ada's reservation and her claim: no task is hers.
    assert jury.repos.assignments.reserve(ada, "app-1", "cut-short", T0)
    with pytest.raises(NotFound):
        jury.desk(T0 + timedelta(minutes=1)).claim(ada, YEAR)  # recent: a claim may be under way
    assert jury.desk(T0 + timedelta(minutes=1)).claim(bob, YEAR)["id"].startswith("app-1:")

    later = T0 + timedelta(minutes=3)
    assert jury.desk(later).claim(ada, YEAR)["id"].startswith("app-1:")
    with pytest.raises(NotFound):
        jury.desk(later).claim(bob, YEAR)  # his reservation is old too, but he holds a task of app-1


def test_a_juror_never_holds_two_tasks_of_one_application(jury):
    jury.submit("app-1", BESANCON, reviews=3)
    ada = jury.juror("Ada")
    held = jury.desk().claim(ada, YEAR)
    with pytest.raises(NotFound):
        jury.desk().claim(ada, YEAR)  # two tasks of app-1 are still open, none for Ada
    assert [t["id"] for t in jury.desk().list_tasks(ada, CLAIMED)] == [held["id"]]
    assert jury.desk().list_tasks(ada, OPEN) == []
    # Another application is fine.
    jury.submit("app-2", GRENOBLE, reviews=1)
    assert jury.desk().claim(ada, YEAR)["application_id"] == "app-2"


def test_a_juror_who_reviewed_an_application_gets_none_of_its_other_tasks(jury):
    jury.submit("app-1", BESANCON, reviews=2)
    ada = jury.juror("Ada")
    task = jury.desk().claim(ada, YEAR)
    jury.review(ada, task["id"], 3)
    with pytest.raises(NotFound):
        jury.desk().claim(ada, YEAR)


def test_no_task_of_the_jurors_own_department(jury):
    jury.submit("app-1", BESANCON, reviews=1)
    doubs = jury.juror("Ada", department="25")
    with pytest.raises(NotFound):
        jury.desk().claim(doubs, YEAR)
    assert jury.desk().list_tasks(doubs, OPEN) == []
    assert jury.desk().claim(jury.juror("Bob", department="38"), YEAR)["id"] == "app-1:1"


def test_no_task_of_a_declared_conflict_nor_of_a_territoire_grouping_it(jury):
    territoire = collectivite("200067106", "39", "CC Jura Nord", kind="epci", members=["39478", "39001"])
    jury.submit("app-epci", territoire, reviews=1)
    jury.submit("app-gre", GRENOBLE, reviews=1)
    ada = jury.juror("Ada", conflicts=["39478", "col-38185"])  # a member commune; Grenoble by id
    with pytest.raises(NotFound):
        jury.desk().claim(ada, YEAR)
    assert jury.desk().list_tasks(ada, OPEN) == []
    assert jury.out.payloads("review_task_claimed") == []


def test_the_open_tasks_are_listed_a_page_at_a_time_shelf_by_shelf(jury):
    codes = [("13055", "13"), ("25056", "25"), ("38185", "38"), ("39300", "39"), ("75056", "75")]
    for insee, department in codes:
        jury.submit(f"{YEAR}:{insee}", collectivite(insee, department), reviews=2)
    ada = jury.juror("Ada", department="25")
    held = jury.desk().claim(ada, YEAR)  # none of that application's other task for her
    shelves_read = []
    on_shelf = jury.repos.tasks.on_shelf
    jury.repos.tasks.on_shelf = lambda *args, **kwargs: (
        shelves_read.append(args[2]) or on_shelf(*args, **kwargs)
    )
    pages, after, reads = [], None, 0
    while True:
        page = jury.desk().list_tasks(ada, OPEN, None, after, limit=3)
        pages.append([task["id"] for task in page])
        reads = reads if after else len(shelves_read)  # the first page's
        if len(page) < 3:
            break
        after = page[-1]["id"]
    expected = sorted(
        f"{YEAR}:{insee}:{n}"
        for insee, department in codes
        for n in (1, 2)
        if department != "25" and f"{YEAR}:{insee}" != held["application_id"]
    )
    assert [task_id for page in pages for task_id in page] == expected
    assert pages[0] == expected[:3]
    assert shelves_read[:2] == [f"{YEAR}:130", f"{YEAR}:250"]
    assert reads < len(codes)  # the first page stopped once full


def test_a_jurors_reviews_and_claims_are_listed_a_page_at_a_time_over_the_years(jury):
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    done = []
    for year in (2016, YEAR):
        for insee in ("13055", "25056", "38185"):
            jury.submit(f"{year}:{insee}", collectivite(insee, insee[:2]), reviews=1, year=year)
            task = jury.desk().claim(ada, year)
            jury.review(ada, task["id"], 3)
            done.append(task["id"])
    jury.submit(f"{YEAR}:39300", collectivite("39300", "39"), reviews=2)
    held = jury.desk().claim(ada, YEAR)["id"]
    jury.desk().claim(bob, YEAR)  # his, in no list of hers
    jury.submit(f"{YEAR}:69123", collectivite("69123", "69"), reviews=1)
    jury.desk().claim(ada, YEAR)  # a claim she lets lapse

    reads = []
    of_juror = jury.repos.tasks.of_juror
    jury.repos.tasks.of_juror = lambda *args: reads.append(args) or of_juror(*args)
    pages, after = [], None
    while after is not None or not pages:
        page = jury.desk().list_tasks(ada, DONE, None, after, limit=2)
        pages.append([task["id"] for task in page])
        after = page[-1]["id"] if len(page) == 2 else None
    assert pages == [sorted(done)[:2], sorted(done)[2:4], sorted(done)[4:], []]
    assert [len(of_juror(*args)) for args in reads] == [2, 2, 2, 0]  # a page read, never all her reviews
    assert [t["id"] for t in jury.desk().list_tasks(ada, DONE, 2016)] == sorted(done[:3])

    later = T0 + LEASE - timedelta(minutes=1)
    assert len(jury.desk(later).list_tasks(ada, CLAIMED)) == 2
    jury.review(ada, held, 4, now=later)
    lapsed = T0 + LEASE + timedelta(minutes=1)
    assert jury.desk(lapsed).list_tasks(ada, CLAIMED) == []  # reviewed, and lapsed (shown open)
    assert held in [t["id"] for t in jury.desk(lapsed).list_tasks(ada, DONE, YEAR)]


def test_an_expired_lease_returns_the_task_to_the_pool(jury):
    jury.submit("app-1", BESANCON, reviews=1)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    jury.desk().claim(ada, YEAR)
    with pytest.raises(NotFound):
        jury.desk(T0 + LEASE - timedelta(seconds=1)).claim(bob, YEAR)

    later = T0 + LEASE + timedelta(seconds=1)
    assert [t["id"] for t in jury.desk(later).list_tasks(bob, OPEN)] == ["app-1:1"]
    taken = jury.desk(later).claim(bob, YEAR)
    assert (taken["id"], taken["claimed_by"]) == ("app-1:1", bob)
    assert jury.repos.tasks.get("app-1:1")["version"] == 3  # created, Ada's claim, Bob's claim

    with pytest.raises(Conflict) as late:  # Ada's review comes too late
        jury.review(ada, "app-1:1", 4, now=later)
    assert late.value.code == "claim_not_held"
    with pytest.raises(Conflict):
        jury.desk(later).release(ada, "app-1:1")
    jury.review(bob, "app-1:1", 4, now=later)
    assert jury.repos.tasks.get("app-1:1")["state"] == DONE


def test_the_holder_releases_a_task_and_may_claim_again(jury):
    jury.submit("app-1", BESANCON, reviews=1)
    ada = jury.juror("Ada")
    jury.desk().claim(ada, YEAR)
    released = jury.desk().release(ada, "app-1:1")
    assert released["state"] == OPEN
    assert jury.desk().claim(ada, YEAR)["id"] == "app-1:1"


def test_of_two_claimers_with_the_same_stale_read_one_wins(jury):
    """The race the ledger decides: both read version 1 of the task; the insert of
    `tasks:app-1:1:2` goes to the first, the second gets a lost claim, not a double one."""
    jury.submit("app-1", BESANCON, reviews=1)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    stale = jury.repos.tasks.get("app-1:1", summary=True)
    desk = jury.desk()
    assert desk._claim_task(stale, desk.juror(ada), LEASE, maybe_first=True)["claimed_by"] == ada
    assert desk._claim_task(stale, desk.juror(bob), LEASE, maybe_first=True) is None
    assert jury.repos.tasks.get("app-1:1")["claimed_by"] == ada
    assert [c["juror_id"] for c in jury.out.payloads("review_task_claimed")] == [ada]


def test_a_stale_snapshot_costs_a_probe_never_a_double_claim(jury):
    jury.snapshots = TaskSnapshots()
    jury.submit("app-1", BESANCON, reviews=1)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    copy = jury.snapshots.claim_index(YEAR, lambda: jury.repos.tasks.scan_of_campaign(YEAR), T0)
    assert copy.started("app-1") is False  # the copy: open
    jury.desk(other_replica=True).claim(ada, YEAR)  # this process's copy does not know
    with pytest.raises(NotFound):
        jury.desk().claim(bob, YEAR)
    assert jury.repos.tasks.get("app-1:1")["claimed_by"] == ada


def test_a_claim_copy_keeps_only_what_ordering_a_claim_needs(jury):
    jury.snapshots = TaskSnapshots()
    jury.submit("app-1", BESANCON, reviews=1)
    index = jury.snapshots.claim_index(YEAR, lambda: jury.repos.tasks.scan_of_campaign(YEAR), T0)
    (task,) = index._tasks["app-1"].values()
    assert {"state", "claimed_by", "lease_expires_at", "version", "n"} <= set(task)  # the order's
    assert not {"created_at", "shelf_1"} & set(task) and "name" not in task["collectivite"]
    assert task["collectivite"]["department"] == BESANCON["department"]  # the conflict rule's


def test_the_tasks_of_one_application_share_their_collectivite_in_the_claim_copy(jury):
    jury.snapshots = TaskSnapshots()
    jury.submit("app-1", BESANCON, reviews=2)
    first, second = (
        jury.snapshots.claim_index(YEAR, lambda: jury.repos.tasks.scan_of_campaign(YEAR), T0)
        ._tasks["app-1"]
        .values()
    )
    assert first["collectivite"] is second["collectivite"]


class Clock:
    def __init__(self):
        self.seconds = 1000.0

    def __call__(self):
        return self.seconds


def test_a_claim_finding_nothing_reads_the_open_tasks_again_in_place_at_most_every_two_seconds(
    jury, monkeypatch
):
    clock = Clock()
    jury.snapshots = TaskSnapshots(clock=clock)
    jury.submit("app-1", BESANCON, reviews=1)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    assert jury.desk().claim(ada, YEAR)["id"] == "app-1:1"  # the copy is read whole here
    index = jury.snapshots.claim_index(YEAR, lambda: pytest.fail("read whole again"), T0)
    jury.submit("app-2", GRENOBLE, reviews=1, other_replica=True)  # this process's copy does not know
    read = []
    candidates = jury.repos.tasks.claimable_candidates
    monkeypatch.setattr(
        jury.repos.tasks,
        "claimable_candidates",
        lambda year, states: read.append(states) or candidates(year, states),
    )
    clock.seconds += 1
    with pytest.raises(NotFound):  # read less than two seconds ago
        jury.desk().claim(bob, YEAR)
    clock.seconds += 1
    assert jury.desk().claim(bob, YEAR)["id"] == "app-2:1"
    assert read == [("open",)]  # not the claimed ones, nor the campaign whole
    assert jury.snapshots.claim_index(YEAR, lambda: pytest.fail("read whole again"), T0) is index


def test_the_timer_catches_the_copy_up_with_open_and_claimed_tasks_and_lets_a_released_campaign_go(jury):
    jury.snapshots = TaskSnapshots(clock=Clock())
    jury.submit("app-1", BESANCON, reviews=1)
    ada = jury.juror("Ada")
    assert jury.desk().refresh_claim_copies() == 0  # no copy yet: nothing to catch up
    jury.desk().claim(ada, YEAR)
    jury.submit("app-2", GRENOBLE, reviews=1, other_replica=True)
    jury.desk(other_replica=True).claim(ada, YEAR)  # claimed elsewhere, unknown here
    assert jury.desk().refresh_claim_copies() == 1
    index = jury.snapshots.claim_index(YEAR, lambda: pytest.fail("read whole again"), T0)
    assert index._tasks["app-2"]["app-2:1"]["claimed_by"] == ada
    jury.desk().results_released({"campaign_year": YEAR, "released_at": "2017-12-01T18:00:00+00:00"})
    assert jury.snapshots.years() == []


# -- consolidation -------------------------------------------------------------


def review_both(jury, app_id, first, second):
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    for juror_id, arobases in ((ada, first), (bob, second)):
        task = jury.desk().claim(juror_id, YEAR)
        assert task["application_id"] == app_id
        jury.review(juror_id, task["id"], arobases, mentions=["teletravail"])
    return ada, bob


def test_agreeing_reviews_make_the_proposal(jury):
    jury.submit("app-1", BESANCON)
    review_both(jury, "app-1", 3, 4)
    app = jury.repos.applications.get("app-1")
    assert app["state"] == REVIEWED
    assert app["proposal"] == {"arobases": 3, "mentions": ["teletravail"]}  # the lower middle value
    (reviewed,) = jury.out.payloads("application_reviewed")
    assert reviewed["proposal"] == {"arobases": 3, "mentions": ["teletravail"]}
    assert reviewed["disagreement"] is False
    assert len(reviewed["reviews"]) == 2
    row = jury.desk().deliberation(YEAR)[0]
    assert (row["review_state"], row["reviews_done"], row["reviews_expected"]) == (REVIEWED, 2, 2)
    # The consolidation stored the reviews the deliberation shows: a page reads no task.
    assert app["reviews"] == row["reviews"] and all(r["submitted_at"] for r in app["reviews"])
    jury.repos.tasks.on_shelf = lambda *args: pytest.fail("tasks read for a consolidated application")
    assert jury.desk().deliberation_page(YEAR, None, 10)["rows"] == [row]


def test_the_campaign_progress_counts_reviews_and_applications(jury):
    jury.submit("app-1", BESANCON)
    ada, bob = review_both(jury, "app-1", 3, 4)
    jury.submit("app-2", GRENOBLE)
    assert jury.desk().campaign_progress(YEAR)["counts"] is None  # the first count: the timer's
    assert jury.desk().refresh_tallies() == 1
    progress = jury.desk().campaign_progress(YEAR)
    assert progress["counts"] == {
        "tasks": {"open": 2, "done": 2},
        "reviews_done": 2,
        "reviews_outstanding": 2,
        "jurors_active": 2,
        "applications_reviewed": 1,
        "disagreements": 0,
        "reviews_by_juror": {ada: 1, bob: 1},
        "held_by_juror": {},
    }
    assert progress["counted_at"] == T0.isoformat() and progress["recounting"] is False


def test_disagreement_opens_one_extra_review_then_proposes(jury):
    jury.submit("app-1", BESANCON)
    review_both(jury, "app-1", 1, 4)
    app = jury.repos.applications.get("app-1")
    assert (app["state"], app["expected"], app["extra_review"]) == (WAITING_EXTRA, 3, True)
    assert jury.repos.tasks.get("app-1:3")["state"] == OPEN
    assert jury.out.payloads("application_reviewed") == []

    cleo = jury.juror("Cleo")
    extra = jury.desk().claim(cleo, YEAR)
    assert extra["id"] == "app-1:3"
    jury.review(cleo, extra["id"], 2)

    (reviewed,) = jury.out.payloads("application_reviewed")
    assert reviewed["proposal"]["arobases"] == 2  # median of 1, 4, 2
    assert reviewed["proposal"]["mentions"] == ["teletravail"]  # 2 of 3
    assert reviewed["disagreement"] is True  # still 1 vs 4: organisers decide, no fourth review
    assert jury.repos.tasks.get("app-1:4") is None
    assert jury.repos.applications.get("app-1")["state"] == REVIEWED
    # The organisers' view of the disagreements holds it, and its row read alone is the same.
    [row] = jury.desk().deliberation_page(YEAR, None, 10, disagreements=True)["rows"]
    assert row == jury.desk().deliberation_row("app-1") and row["disagreement"] is True


def test_a_review_reads_its_application_once_and_each_other_task_at_most_twice(jury, monkeypatch):
    """The consolidation a review owes takes the application the review read and
    the task it wrote; the other task is read for the consolidation, and again
    by the first review's check that no review came in meanwhile."""
    jury.submit("app-1", BESANCON)
    reads = []
    for repo, name in ((jury.repos.applications, "application"), (jury.repos.tasks, "task")):
        real = repo.get

        def get(doc_id, *args, _real=real, _name=name, **kwargs):
            reads.append((_name, doc_id))
            return _real(doc_id, *args, **kwargs)

        monkeypatch.setattr(repo, "get", get)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    per_review = []
    for juror_id in (ada, bob):
        task = jury.desk().claim(juror_id, YEAR)
        reads.clear()
        jury.review(juror_id, task["id"], 3)
        per_review.append(sorted(reads))
    first, second = (jury.repos.tasks.get(f"app-1:{n}") for n in (1, 2))
    mine, other = (first, second) if first["claimed_by"] == ada else (second, first)
    assert per_review[0] == sorted(
        [("task", mine["_id"]), ("application", "app-1")]  # the review's own reads
        + [("task", other["_id"])]  # the consolidation: not every review is in
        + [("application", "app-1"), ("task", other["_id"])]  # the check behind it
    )
    assert per_review[1] == sorted([("task", other["_id"]), ("application", "app-1"), ("task", mine["_id"])])
    assert jury.repos.applications.get("app-1")["state"] == REVIEWED


def test_a_consolidation_on_the_reviews_earlier_read_loses_to_a_concurrent_one_and_reads_again(
    jury, monkeypatch
):
    jury.submit("app-1", BESANCON)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    jury.review(ada, jury.desk().claim(ada, YEAR)["id"], 3)
    held = jury.desk().claim(bob, YEAR)
    session = jury.out.session
    real_update = session.update

    def update(collection, current, fields, *args, **kwargs):
        written = real_update(collection, current, fields, *args, **kwargs)
        if collection == "tasks" and fields.get("state") == DONE:
            # Bob's review is in; another replica consolidates before Bob does,
            # so the application Bob read is now one version behind.
            assert jury.desk(other_replica=True).consolidate("app-1") == "propose"
        return written

    monkeypatch.setattr(session, "update", update)
    jury.review(bob, held["id"], 4)
    (reviewed,) = jury.out.payloads("application_reviewed")  # proposed once
    assert reviewed["proposal"]["arobases"] == 3
    assert jury.repos.applications.get("app-1")["state"] == REVIEWED
    assert jury.repos.pending_consolidations.due(T0 + timedelta(days=1)) == []  # nothing left owed


def test_consolidation_waits_for_every_expected_review(jury):
    jury.submit("app-1", BESANCON, reviews=2)
    ada = jury.juror("Ada")
    task = jury.desk().claim(ada, YEAR)
    jury.review(ada, task["id"], 5)
    assert jury.desk().consolidate("app-1") is None
    assert jury.repos.applications.get("app-1")["state"] == "reviewing"


def test_withdrawal_cancels_the_open_and_claimed_tasks(jury):
    jury.submit("app-1", BESANCON)
    ada = jury.juror("Ada")
    jury.desk().claim(ada, YEAR)
    cancelled = jury.desk().application_withdrawn(
        {"application_id": "app-1", "campaign_year": YEAR, "collectivite": BESANCON}
    )
    assert cancelled == 2
    assert {jury.repos.tasks.get(f"app-1:{n}")["state"] for n in (1, 2)} == {"cancelled"}
    assert jury.submit("app-1", BESANCON) == 0  # a redelivered submission creates nothing
    with pytest.raises(NotFound):
        jury.desk().claim(jury.juror("Bob"), YEAR)


def submission(app_id, col, reviews=2, year=YEAR):
    return {
        "application_id": app_id,
        "campaign_year": year,
        "collectivite": col,
        "enjeux": ["e1"],
        "mentions": [],
        "submitted_at": "2017-06-01T10:00:00+00:00",
        "reviews_per_application": reviews,
    }


def test_a_batch_of_submissions_creates_each_task_once_in_three_inserts(jury, monkeypatch):
    jury.snapshots, jury.shelf_lists = TaskSnapshots(), ShelfLists(60)
    jury.submit("app-1", BESANCON)  # stored before: its redelivery creates nothing
    jury.desk().application_withdrawn(  # withdrawn before its submission was seen: a tombstone
        {"application_id": "app-2", "campaign_year": YEAR, "collectivite": GRENOBLE}
    )
    inserts = []
    for name in ("applications", "tasks", "deliberation_shelves"):
        collection = jury.out.db[name]
        insert_many = collection.insert_many
        monkeypatch.setattr(
            collection,
            "insert_many",
            lambda docs, *a, _name=name, _insert=insert_many, **k: (
                inserts.append(_name) or _insert(docs, *a, **k)
            ),
        )
    batch = [
        submission("app-1", BESANCON),
        submission("app-2", GRENOBLE),
        submission("app-3", GRENOBLE, reviews=3),
        submission("app-3", GRENOBLE, reviews=3),  # the same event twice in one batch
        submission("app-4", BESANCON, year=YEAR + 1),
    ]
    assert jury.desk().applications_submitted(batch) == 5
    assert inserts == ["deliberation_shelves", "applications", "tasks"]  # a shelf before what it names
    assert [t["_id"] for t in jury.out.db["tasks"].find({"application_id": {"$in": ["app-3", "app-4"]}})] == [
        "app-3:1",
        "app-3:2",
        "app-3:3",
        "app-4:1",
        "app-4:2",
    ]
    assert jury.out.db["tasks"].count_documents({"application_id": "app-2"}) == 0
    assert jury.repos.applications.get("app-2")["state"] == "withdrawn"
    assert jury.repos.applications.get("app-3")["expected"] == 3
    assert jury.repos.tasks.get("app-4:1")["campaign_year"] == YEAR + 1
    assert jury.repos.shelves.of_campaign(YEAR + 1) == [shelf("app-4", max(SHELF_WIDTHS))]
    assert jury.desk().applications_submitted(batch) == 0  # the whole batch redelivered
    assert jury.desk().claim(jury.juror("Ada"), YEAR + 1)["id"] == "app-4:1"  # the claim copy knows them


def test_a_withdrawal_between_a_batch_s_two_inserts_leaves_no_task_open(jury, monkeypatch):
    jury.submit("app-0", BESANCON)  # the campaign opened
    create_many = jury.out.session.create_many

    def withdrawn_meanwhile(collection, docs):
        if collection == "tasks":  # the application is stored, its tasks are not yet
            jury.desk().application_withdrawn(
                {"application_id": "app-1", "campaign_year": YEAR, "collectivite": GRENOBLE}
            )
        return create_many(collection, docs)

    monkeypatch.setattr(jury.out.session, "create_many", withdrawn_meanwhile)
    assert jury.desk().applications_submitted([submission("app-1", GRENOBLE)]) == 0
    assert {jury.repos.tasks.get(f"app-1:{n}")["state"] for n in (1, 2)} == {"cancelled"}
    assert jury.repos.tasks.get("app-1:3") is None  # no extra review made up
    assert jury.repos.applications.get("app-1")["state"] == "withdrawn"


# -- after the release, the dossier, a conflict ------------------------------------


def test_after_the_release_no_task_is_claimed_or_reviewed(jury):
    jury.submit("app-1", BESANCON)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    held = jury.desk().claim(ada, YEAR)
    jury.desk().results_released({"campaign_year": YEAR, "released_at": "2017-12-12T18:00:00+00:00"})
    with pytest.raises(Conflict) as claim:
        jury.desk().claim(bob, YEAR)
    assert claim.value.code == "results_released"
    with pytest.raises(Conflict) as review:
        jury.review(ada, held["id"], 3)
    assert review.value.code == "results_released"
    assert jury.out.payloads("review_submitted") == []


def test_only_the_holder_reads_the_dossier_and_a_conflict_keeps_the_juror_away(jury):
    jury.submit("app-1", BESANCON)
    jury.submit("app-2", GRENOBLE)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    held = jury.desk().claim(ada, YEAR)  # either: both have no review yet
    mine, other = (BESANCON, "app-2") if held["application_id"] == "app-1" else (GRENOBLE, "app-1")
    assert jury.desk().dossier(ada, held["id"])["application"]["collectivite"]["name"] == mine["name"]
    with pytest.raises(Forbidden):
        jury.desk().dossier(bob, held["id"])
    with pytest.raises(NotFound):
        jury.desk().dossier(ada, "nope:1")

    declared = jury.desk().declare_conflict(ada, held["id"])
    code = str(mine["insee_code"]).upper()
    assert code in declared["conflicts"] and declared["state"] == "open"
    # Never again a task of that collectivité for Ada; Bob takes it.
    again = jury.desk().claim(ada, YEAR)
    assert again["application_id"] == other
    assert jury.desk().claim(bob, YEAR)["application_id"] == held["application_id"]


# -- a consolidation owed is never lost ----------------------------------------------


def test_a_consolidation_that_failed_after_the_last_review_is_done_by_the_sweep(jury, monkeypatch):
    jury.submit("app-1", BESANCON)
    broken = JuryDesk.consolidate

    def crash(self, app_id, *known):
        raise RuntimeError("database gone for a moment")

    monkeypatch.setattr(JuryDesk, "consolidate", crash)
    review_both(jury, "app-1", 3, 3)  # both reviews accepted: the juror sees no error
    assert jury.out.payloads("application_reviewed") == []
    monkeypatch.setattr(JuryDesk, "consolidate", broken)

    assert jury.desk(T0 + timedelta(seconds=5)).sweep_consolidations() == 0  # within the grace: not yet
    assert jury.desk(T0 + timedelta(seconds=11)).sweep_consolidations() == 1
    (reviewed,) = jury.out.payloads("application_reviewed")
    assert reviewed["proposal"]["arobases"] == 3
    assert jury.desk(T0 + timedelta(minutes=1)).sweep_consolidations() == 0  # done once: nothing left
    assert len(jury.out.payloads("application_reviewed")) == 1


def test_a_consolidation_that_read_behind_the_last_review_is_left_to_the_sweep(jury, monkeypatch):
    # Seen in the fault suite: the last review written, its consolidation found
    # nothing to do (a read behind the write), and the marker was cleared for good.
    jury.submit("app-1", BESANCON)
    real = JuryDesk.consolidate
    monkeypatch.setattr(JuryDesk, "consolidate", lambda self, app_id, *known: None)
    review_both(jury, "app-1", 3, 3)
    monkeypatch.setattr(JuryDesk, "consolidate", real)
    assert jury.out.payloads("application_reviewed") == []

    assert jury.desk(T0 + timedelta(seconds=11)).sweep_consolidations() == 1
    (reviewed,) = jury.out.payloads("application_reviewed")
    assert reviewed["proposal"]["arobases"] == 3


def test_an_early_reviews_consolidation_never_clears_the_marker_a_later_review_set():
    from services.jury.repository import PendingConsolidations
    from tests.unit.fakes import MemoryOutbox

    markers = PendingConsolidations(MemoryOutbox().db)
    first = markers.mark("app-1", T0)
    second = markers.mark("app-1", T0)  # the other juror's review, meanwhile
    markers.clear("app-1", first)  # the first review's consolidation had nothing to do
    assert markers.due(T0) == [("app-1", second)]
    markers.clear("app-1", second)
    assert markers.due(T0) == []


def test_a_crash_between_the_extra_task_and_the_application_is_finished_by_the_sweep(jury, monkeypatch):
    jury.submit("app-1", BESANCON)
    session = jury.out.session
    real_update = session.update

    def update(collection, current, fields, *args, **kwargs):
        if collection == "applications" and fields.get("state") == WAITING_EXTRA:
            raise RuntimeError("crash after the extra task, before the application")
        return real_update(collection, current, fields, *args, **kwargs)

    monkeypatch.setattr(session, "update", update)
    review_both(jury, "app-1", 1, 4)
    assert jury.repos.tasks.get("app-1:3")["state"] == OPEN
    assert jury.repos.applications.get("app-1")["state"] != WAITING_EXTRA
    monkeypatch.setattr(session, "update", real_update)

    assert jury.desk(T0 + timedelta(seconds=11)).sweep_consolidations() == 1
    app = jury.repos.applications.get("app-1")
    assert (app["state"], app["expected"], app["extra_review"]) == (WAITING_EXTRA, 3, True)
    assert jury.repos.tasks.get("app-1:4") is None  # one extra task, not two


CODES = ("25056", "25057", "25100", "2A004", "38185", "38186", "75056")


def pages(jury, limit, after=None):
    found = []
    while True:
        page = jury.desk().deliberation_page(YEAR, after, limit)
        assert len(page["rows"]) <= limit
        read = {tuple(pair) for pair in page["shelves"]}  # the page's decisions are read by them
        assert all(
            any((w, shelf(row["application_id"], w)) in read for w in SHELF_WIDTHS) for row in page["rows"]
        )
        found.append([row["application_id"] for row in page["rows"]])
        if page["next"] is None:
            return found
        after = page["next"]
        assert after == page["rows"][-1]["application_id"]


@pytest.mark.parametrize("sparse, dense", [(12, 120), (0, 1000), (2, 2)])  # widen; never; back and forth
def test_deliberation_pages_read_shelf_by_shelf_give_every_row_once_in_id_order(
    jury, monkeypatch, sparse, dense
):
    monkeypatch.setattr("services.jury.logic.SPARSE", sparse)
    monkeypatch.setattr("services.jury.logic.DENSE", dense)
    for code in reversed(CODES):
        jury.submit(f"{YEAR}:{code}", collectivite(code, code[:2]))
    for name in ("Ada", "Bob"):  # two reviews, on whichever tasks they claim
        juror_id = jury.juror(name)
        jury.review(juror_id, jury.desk().claim(juror_id, YEAR)["id"], 3)
    ids = sorted(f"{YEAR}:{code}" for code in CODES)
    assert jury.repos.shelves.of_campaign(YEAR) == [
        f"{YEAR}:250",
        f"{YEAR}:251",
        f"{YEAR}:2A0",
        f"{YEAR}:381",
        f"{YEAR}:750",
    ]
    for limit in (1, 2, 3, 7, 200):
        found = pages(jury, limit)
        assert [i for page in found for i in page] == ids
    # Mid-shelf and past the end.
    assert pages(jury, 2, after=f"{YEAR}:25056") == [
        [f"{YEAR}:25057", f"{YEAR}:25100"],
        [f"{YEAR}:2A004", f"{YEAR}:38185"],
        [f"{YEAR}:38186", f"{YEAR}:75056"],
    ]
    assert pages(jury, 5, after=f"{YEAR}:9") == [[]]
    # The same rows as the whole list, reviews included.
    whole = {row["application_id"]: row for row in jury.desk().deliberation(YEAR)}
    [paged_rows] = [jury.desk().deliberation_page(YEAR, None, 200)["rows"]]
    assert {row["application_id"]: row for row in paged_rows} == whole
    assert sum(len(row["reviews"]) for row in whole.values()) == 2
    assert jury.desk().deliberation_page(YEAR + 1, None, 200) == {"rows": [], "next": None, "shelves": []}


def test_a_process_keeps_its_shelf_list_and_adds_the_shelves_it_creates(jury):
    now = [0.0]
    jury.shelf_lists = ShelfLists(60, clock=lambda: now[0])
    jury.submit(f"{YEAR}:25056", collectivite("25056", "25"))
    reads = []
    of_campaign = jury.repos.shelves.of_campaign
    jury.repos.shelves.of_campaign = lambda year: reads.append(year) or of_campaign(year)

    def listed():
        return [row["application_id"] for row in jury.desk().deliberation_page(YEAR, None, 50)["rows"]]

    assert listed() == [f"{YEAR}:25056"] and reads == [YEAR]
    jury.submit(f"{YEAR}:38185", collectivite("38185", "38"))  # this process: into its copy
    assert listed() == [f"{YEAR}:25056", f"{YEAR}:38185"] and reads == [YEAR]
    shelf_lists, jury.shelf_lists = jury.shelf_lists, None  # another replica's submission
    jury.submit(f"{YEAR}:75056", collectivite("75056", "75"))
    jury.shelf_lists = shelf_lists
    assert f"{YEAR}:75056" not in listed()
    now[0] = 61
    assert listed()[-1] == f"{YEAR}:75056" and reads == [YEAR, YEAR]


def test_documents_stored_before_the_shelves_get_theirs_once(jury):
    from services.common.migrations import MIGRATIONS
    from services.jury.repository import shelve_older_documents

    db = jury.out.db
    jury.submit(f"{YEAR}:25056", BESANCON)
    unshelved = {"$unset": {"shelf_1": "", "shelf_2": "", "shelf_3": ""}}
    db["applications"].update_many({}, unshelved)
    db["tasks"].update_many({}, unshelved)
    db["deliberation_shelves"].delete_many({})
    shelve_older_documents(db)
    for doc in [*db["applications"].find(), *db["tasks"].find()]:
        assert (doc["shelf_1"], doc["shelf_2"], doc["shelf_3"]) == (f"{YEAR}:2", f"{YEAR}:25", f"{YEAR}:250")
    assert [row["application_id"] for row in jury.desk().deliberation_page(YEAR, None, 10)["rows"]] == [
        f"{YEAR}:25056"
    ]
    assert db[MIGRATIONS].count_documents({}) == 1
    db["applications"].update_many({}, unshelved)
    shelve_older_documents(db)  # done once: the marker stops it
    assert db["applications"].count_documents({"shelf_3": {"$exists": True}}) == 0


def test_the_disagreements_are_paged_on_their_own(jury):
    for code in CODES:
        jury.submit(f"{YEAR}:{code}", collectivite(code, code[:2]))
    disagreed = [f"{YEAR}:25057", f"{YEAR}:2A004", f"{YEAR}:75056"]
    for app_id in disagreed:  # as consolidation leaves them
        fields = {"disagreement": True, **disputed_fields(app_id, True)}
        jury.out.db["applications"].update_one({"_id": app_id}, {"$set": fields})
    for limit in (1, 2, 200):
        found = []
        after = None
        while True:
            page = jury.desk().deliberation_page(YEAR, after, limit, disagreements=True)
            found += [row["application_id"] for row in page["rows"]]
            if page["next"] is None:
                break
            after = page["next"]
        assert found == disagreed
    assert jury.desk().deliberation_page(YEAR, f"{YEAR}:75056", 5, disagreements=True)["rows"] == []


def test_disagreements_stored_before_their_own_shelves_get_them(jury):
    jury.submit(f"{YEAR}:25057", collectivite("25057", "25"))
    jury.out.db["applications"].update_one({"_id": f"{YEAR}:25057"}, {"$set": {"disagreement": True}})
    assert jury.desk().deliberation_page(YEAR, None, 5, disagreements=True)["rows"] == []
    jury.out.db["migrations"].delete_many({})
    ensure_indexes(jury.out.db)
    [row] = jury.desk().deliberation_page(YEAR, None, 5, disagreements=True)["rows"]
    assert row["application_id"] == f"{YEAR}:25057"


def test_one_row_is_read_by_its_ids_alone(jury):
    jury.submit(f"{YEAR}:25056", BESANCON)
    ada = jury.juror("Ada")
    jury.review(ada, jury.desk().claim(ada, YEAR)["id"], 4)
    jury.repos.tasks.on_shelf = lambda *args: pytest.fail("a shelf read for one row")
    jury.repos.applications.on_shelf = lambda *args: pytest.fail("a shelf read for one row")
    row = jury.desk().deliberation_row(f"{YEAR}:25056")
    assert (row["reviews_done"], row["reviews_expected"], row["reviews"][0]["arobases"]) == (1, 2, 4)
    assert [row] == jury.desk().deliberation(YEAR)
    assert jury.desk().deliberation_row(f"{YEAR}:38185") is None


def test_a_refusal_raised_again_and_again_does_not_grow():
    """A shared exception instance would chain every raise's traceback onto
    itself: the jury's memory and its log grew with each empty claim."""
    jury = Jury()
    ada = jury.juror("Ada")
    refusals, depths = [], set()
    for _ in range(3):
        with pytest.raises(NotFound) as refused:
            jury.desk().claim(ada, YEAR)
        depth, tb = 0, refused.value.__traceback__
        while tb is not None:
            depth, tb = depth + 1, tb.tb_next
        refusals.append(refused.value)
        depths.add(depth)
    assert refusals[0] is not refusals[1] and refusals[1] is not refusals[2]
    assert len(depths) == 1


def test_the_digest_reads_the_campaigns_in_progress_only(jury):
    jury.submit(f"{YEAR}:25056", BESANCON)
    jury.submit(f"{YEAR}:38185", GRENOBLE)
    ada, bob = jury.juror("Ada"), jury.juror("Bob", department="38")
    task = jury.desk().claim(ada, YEAR)
    jury.review(ada, task["id"], 3)
    # An earlier campaign, released: its leftover open task is nobody's to claim.
    jury.submit(f"{YEAR - 1}:39300", collectivite("39300", "39"), reviews=1, year=YEAR - 1)
    jury.desk().results_released({"campaign_year": YEAR - 1, "released_at": "2016-12-01T10:00:00+00:00"})
    read = []
    reviewers_of_campaign = jury.repos.tasks.reviewers_of_campaign
    jury.repos.tasks.reviewers_of_campaign = lambda year: read.append(year) or reviewers_of_campaign(year)
    assert jury.desk().send_digests() == 2
    assert read == [YEAR]
    digests = {p["juror"]["id"]: p["open_tasks"] for p in jury.out.payloads("review_tasks_available")}
    # Ada reviewed one task: the other application's two only. Bob is of Isère: Besançon's open ones.
    besancon_open = 1 if task["application_id"] == f"{YEAR}:25056" else 2
    assert digests == {ada: 2, bob: besancon_open}
    assert jury.desk().send_digests() == 0  # nothing new since


def test_the_jurors_load_reads_a_released_campaign_once(jury):
    for year in (YEAR - 1, YEAR):
        jury.desk().campaign_opened(
            {"year": year, "enjeux": [{"code": "e1"}], "mentions": [], "reviews_per_application": 2}
        )
    jury.submit(f"{YEAR - 1}:39300", collectivite("39300", "39"), reviews=2, year=YEAR - 1)
    ada, bob = jury.juror("Ada"), jury.juror("Bob")
    earlier = jury.desk().claim(ada, YEAR - 1)
    jury.review(ada, earlier["id"], 4)
    jury.desk().results_released({"campaign_year": YEAR - 1, "released_at": "2016-12-01T10:00:00+00:00"})
    assert jury.repos.campaigns.get(YEAR - 1)["reviews_by_juror"] == {ada: 1}  # counted at the release
    jury.submit(f"{YEAR}:25056", BESANCON)
    jury.submit(f"{YEAR}:38185", GRENOBLE)
    jury.desk().claim(ada, YEAR)  # held
    jury.review(bob, jury.desk().claim(bob, YEAR)["id"], 3)

    def load(now=T0):
        return {j["name"]: (j["held"], j["reviews_done"]) for j in jury.desk(now).jurors_with_load()}

    # The campaign in progress: its reviews once its progress tally has its first count.
    page = jury.desk().jurors_page()
    assert page["tallies"] == [{"counts": None, "counted_at": None, "recounting": True}]
    assert {j["name"]: j["reviews_done"] for j in page["jurors"]} == {"Ada": 1, "Bob": 0}
    assert jury.desk().refresh_tallies() == 1
    assert load() == {"Ada": (1, 1), "Bob": (0, 1)}
    read = []
    for name in ("reviewers_of_campaign", "of_campaign", "states_of_campaign"):
        method = getattr(jury.repos.tasks, name)
        setattr(jury.repos.tasks, name, lambda year, m=method, n=name: read.append((n, year)) or m(year))
    assert load(T0 + timedelta(minutes=1)) == {"Ada": (1, 1), "Bob": (0, 1)}
    # The released campaign's count was kept on its document; the one in
    # progress is its progress tally (common/tallies.py: cheap here, so counted).
    assert read == [("states_of_campaign", YEAR)]
    later = T0 + LEASE + timedelta(minutes=1)
    assert load(later) == {"Ada": (1, 1), "Bob": (0, 1)}  # as counted: Ada's lease had not run out
    assert read == [("states_of_campaign", YEAR)]  # counted long ago: served, and the timer asked
    assert jury.desk(later).refresh_tallies() == 1 and len(read) == 2
    assert load(later) == {"Ada": (0, 1), "Bob": (0, 1)}  # counted again: it ran out
