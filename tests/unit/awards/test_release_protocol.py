"""The awards use cases over the real repository, ledger and outbox session,
in memory (tests/unit/fakes.py): embargo, decisions, the release protocol
(one uniquely keyed record decides, batches of award_decided, a crashed
release finished later with the same events), deliberation_ready."""

from datetime import UTC, datetime, timedelta

import pytest

from services.awards import logic
from services.awards import release as release_protocol
from services.awards.release import (
    RELEASE_PARTS,
    RESULT_BUCKET_SIZE,
    award_payload,
    by_release_part,
    region_chunks,
    release_part,
    result_bucket,
    result_bucket_count,
    result_buckets,
    unparted_batch_key,
)
from services.awards.repository import AwardsRepository, ensure_indexes
from services.common import contracts
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.shelves import shelf, shelf_fields
from tests.unit.awards.releasing import release
from tests.unit.fakes import Clock, MemoryOutbox

YEAR = 2017
CLOSE = datetime(2017, 9, 30, 22, 0, tzinfo=UTC)


def collectivite(insee, name, email="mairie@example.fr"):
    return {
        "id": f"col-{insee}",
        "insee_code": insee,
        "name": name,
        "kind": "commune",
        "category": "ville",
        "department": insee[:2],
        "region": "Bourgogne-Franche-Comté",
        "population": 20000,
        "email": email,
        "member_communes": [],
    }


class Awards:
    def __init__(self):
        self.out = MemoryOutbox()
        self.repo = AwardsRepository(self.out.db)
        self.clock = Clock(datetime(2017, 10, 15, 9, 0, tzinfo=UTC))
        self.awards.campaign_opened(
            {
                "year": YEAR,
                "title": "Label 2018",
                "submissions_close_at": CLOSE.isoformat(),
                "ceremony_at": "2017-12-12T17:00:00+00:00",
                "ceremony_place": "Lille Grand Palais",
                "mentions": [{"code": "teletravail", "label": "Télétravail"}],
            }
        )

    @property
    def awards(self):
        """As the service does: one use-case object per call, at the clock's
        instant; the work it does then goes on at the clock's time."""
        return logic.Awards(self.repo, self.out.session, self.clock(), clock=self.clock)

    def apply(self, app_id, col, proposal=None):
        self.awards.application_submitted(
            {"application_id": app_id, "campaign_year": YEAR, "collectivite": col, "submitted_at": "x"}
        )
        if proposal is not None:
            self.awards.application_reviewed(
                {
                    "application_id": app_id,
                    "campaign_year": YEAR,
                    "collectivite": col,
                    "proposal": {"arobases": proposal, "mentions": ["teletravail"]},
                    "reviews": [],
                    "disagreement": False,
                }
            )


@pytest.fixture
def awards():
    a = Awards()
    a.apply("app-1", collectivite("25056", "Besançon"), proposal=4)
    a.apply("app-2", collectivite("38185", "Grenoble"), proposal=3)
    a.apply("app-3", collectivite("79202", "Parthenay", email=None))
    return a


def test_a_batch_of_submissions_stores_each_application_once(awards):
    def submitted(app_id, col):
        return {"application_id": app_id, "campaign_year": YEAR, "collectivite": col, "submitted_at": "x"}

    lyon = collectivite("69123", "Lyon")
    awards.awards.applications_submitted(
        [
            submitted("app-1", collectivite("25056", "Besançon (again)")),
            submitted("app-4", lyon),
            submitted("app-4", lyon),
        ]
    )
    assert awards.repo.application("app-1")["collectivite"]["name"] == "Besançon"  # the first copy stands
    assert awards.repo.application("app-4")["part"] == release_part("app-4")
    assert awards.out.db["applications"].count_documents({"campaign_year": YEAR}) == 4


def test_results_stay_embargoed_until_the_release(awards):
    with pytest.raises(Conflict) as embargo:
        awards.awards.palmares(YEAR, "collectivite")
    assert embargo.value.code == "results_embargoed"
    with pytest.raises(Conflict):
        awards.awards.application_result("app-1", "collectivite", "col-25056")
    draft = awards.awards.palmares(YEAR, logic.ORGANISER)
    assert draft["draft"] is True and draft["pending"] == ["app-3"]
    assert awards.out.names() == []


def test_the_release_page_previews_from_a_tally_that_follows_the_decisions(awards, monkeypatch):
    def no_palmares_lines(*args):  # a preview counts outcomes: no line of the palmarès is made
        raise AssertionError("the preview drafted the palmarès")

    monkeypatch.setattr(logic, "palmares_line", no_palmares_lines)
    monkeypatch.setattr(awards.repo, "levels_of", no_palmares_lines)
    assert awards.awards.release_preview_tally(YEAR)["counts"] is None  # the first: the timer's
    assert awards.awards.refresh_tallies() == 1
    first = awards.awards.release_preview_tally(YEAR)
    assert (first["counts"]["ready"], first["counts"]["labelled_count"]) == (False, 2)
    assert (first["counts"]["undecided"], first["counts"]["emails_to_send"]) == (["app-3"], 2)
    awards.awards.decide("app-3", {"arobases": 2, "mentions": []}, "admin")
    second = awards.awards.release_preview_tally(YEAR)  # cheap here: counted again
    assert second["counts"]["ready"] is True and second["counts"]["undecided"] == []
    assert second["counts"]["missing_email"] == ["col-79202"] and second["recounting"] is False


def test_release_refused_while_undecided_unless_forced(awards):
    with pytest.raises(Conflict) as undecided:
        release(awards, YEAR, "admin")
    assert undecided.value.code == "applications_undecided"
    assert awards.repo.release_step(YEAR) is None

    view = release(awards, YEAR, "admin", force=True)
    assert (view["labelled_count"], view["pending"]) == (2, ["app-3"])
    assert awards.out.names() == ["results_released", "award_decided", "award_decided"]


def test_release_publishes_once_and_a_second_call_changes_nothing(awards):
    awards.awards.decide("app-3", {"arobases": 2, "mentions": [], "reason": "pas de proposition"}, "admin")
    first = release(awards, YEAR, "admin")
    events = list(awards.out.publisher.events)
    awards.clock.advance(hours=1)
    second = release(awards, YEAR, "someone-else")

    assert first == second  # the record decided it: same time, same author
    assert awards.out.publisher.events == events
    (released,) = awards.out.payloads("results_released")
    assert (released["labelled_count"], released["released_by"], released["pending"]) == (3, "admin", [])
    decided = {p["application_id"]: p["arobases"] for p in awards.out.payloads("award_decided")}
    assert decided == {"app-1": 4, "app-2": 3, "app-3": 2}
    assert awards.out.unpublished() == []
    result = awards.awards.application_result("app-1", "collectivite", "col-25056")
    assert (result["labelled"], result["arobases"]) == (True, 4)


def test_nothing_changes_the_palmares_once_released(awards):
    release(awards, YEAR, "admin", force=True)
    with pytest.raises(Conflict) as late:
        awards.awards.decide("app-3", {"arobases": 5, "mentions": [], "reason": "x"}, "admin")
    assert late.value.code == "results_released"
    awards.awards.application_withdrawn(
        {"application_id": "app-1", "campaign_year": YEAR, "withdrawn_at": "2017-12-13T00:00:00+00:00"}
    )
    labelled = awards.awards.palmares(YEAR, "collectivite")["labelled"]
    assert [e["application_id"] for e in labelled] == ["app-1", "app-2"]


def test_a_release_that_died_midway_is_finished_with_the_same_events(awards, monkeypatch):
    def crash(doc):
        raise RuntimeError("process killed")

    monkeypatch.setattr(awards.repo, "save_release", crash)
    with pytest.raises(RuntimeError):
        release(awards, YEAR, "admin", force=True)
    assert awards.repo.release(YEAR) is None  # decided (the record exists) but not written out
    assert awards.repo.release_step(YEAR) is not None
    ids_before = [e["payload"]["event_id"] for e in awards.out.publisher.events]
    monkeypatch.undo()

    # While the dead completer's lease runs, nobody else writes it out; readers
    # are told it is being published and trigger nothing.
    assert awards.awards.finish_interrupted_releases() == []
    for role in (None, logic.ORGANISER):
        with pytest.raises(Conflict) as reading:
            awards.awards.palmares(YEAR, role)
        assert reading.value.code == "release_in_progress"
    again = release(awards, YEAR, "someone-else", force=True)
    assert again["released_by"] == "admin" and awards.repo.release(YEAR) is None
    awards.clock.advance(minutes=4)  # the lease ran out: the recovery timer takes over

    assert awards.awards.finish_interrupted_releases() == [YEAR]
    assert awards.repo.release(YEAR)["complete"] is True
    # Nothing published twice: every event of the records was already out.
    assert [e["payload"]["event_id"] for e in awards.out.publisher.events] == ids_before
    assert len(ids_before) == 3
    assert awards.awards.finish_interrupted_releases() == []


def test_a_write_out_longer_than_its_lease_keeps_it_and_the_recovery_drafts_nothing(awards, monkeypatch):
    """The completer renews its lease part by part: the recovery timer, every
    few seconds meanwhile, finds it held and drafts nothing beside it (at a
    tenth of national scale, with the lease not renewed, it began a second
    draft after 3 minutes)."""
    drafts, recoveries = [], []
    draft = logic.Awards._draft

    def counted_draft(self, *args, **kwargs):
        drafts.append(args)
        return draft(self, *args, **kwargs)

    monkeypatch.setattr(logic.Awards, "_draft", counted_draft)
    save_result_bucket = awards.repo.save_result_bucket

    def slow_part(*args):
        awards.clock.advance(minutes=2)
        recoveries.append(awards.awards.finish_interrupted_releases())
        return save_result_bucket(*args)

    monkeypatch.setattr(awards.repo, "save_result_bucket", slow_part)
    release(awards, YEAR, "admin", force=True)
    assert len({release_part("app-1"), release_part("app-2")}) == 2  # two parts: 4 minutes
    assert recoveries == [[], []]
    assert len(drafts) == 1  # the decision's, which its write-out reused
    assert awards.repo.release(YEAR)["complete"] is True


def test_only_the_holder_renews_a_completion_lease(awards):
    repo, now = awards.repo, awards.clock()
    assert repo.take_completion(YEAR, "a", now, now + timedelta(minutes=3))
    assert not repo.renew_completion(YEAR, "b", now + timedelta(minutes=9))
    assert repo.renew_completion(YEAR, "a", now + timedelta(minutes=5))
    later = now + timedelta(minutes=4)  # past the first end, within the renewed one
    assert not repo.take_completion(YEAR, "b", later, later + timedelta(minutes=3))
    assert repo.take_completion(YEAR, "a", later, later + timedelta(minutes=3))


def test_an_expired_completion_lease_goes_to_one_completer_only(awards, monkeypatch):
    """Two completers find the same expired lease. As FerretDB v1 does, a
    filtered delete reads its document, then deletes by `_id` alone: here the
    other completer takes the lease between the two."""
    repo, now = awards.repo, awards.clock()
    assert repo.take_completion(YEAR, "dead", now, now + timedelta(minutes=3))
    later, leases, taken = now + timedelta(minutes=4), repo.db.completion_leases, {}
    delete_one = leases.delete_one

    def read_then_delete_by_id(query):
        doc = leases.find_one(query)
        if not taken:  # b's delete, between its read and its write: a comes in
            taken["a"] = None
            taken["a"] = repo.take_completion(YEAR, "a", later, later + timedelta(minutes=3))
        if doc is not None:
            delete_one({"_id": doc["_id"]})

    monkeypatch.setattr(leases, "delete_one", read_then_delete_by_id)
    taken["b"] = repo.take_completion(YEAR, "b", later, later + timedelta(minutes=3))
    assert sorted(taken.values()) == [False, True]
    winner = "a" if taken["a"] else "b"
    assert leases.find_one({"_id": f"complete:{YEAR}"})["owner"] == winner


def test_a_release_during_a_broker_outage_is_published_by_the_sweep(awards):
    awards.out.publisher.down = True
    release(awards, YEAR, "admin", force=True)
    assert awards.out.names() == []
    # The release record, and a batch for each part its two applications fall in.
    parts = {release_part(app_id) for app_id in ("app-1", "app-2")}
    assert len(awards.out.unpublished()) == 1 + len(parts)
    awards.out.publisher.down = False
    awards.out.db.outbox_pending.update_many({}, {"$set": {"created_at": datetime(2000, 1, 1, tzinfo=UTC)}})
    assert awards.out.relay.sweep() == 1 + len(parts)
    assert awards.out.names() == ["results_released", "award_decided", "award_decided"]


def test_a_decision_departing_from_the_proposal_needs_a_reason(awards):
    with pytest.raises(ValidationFailed) as missing:
        awards.awards.decide("app-1", {"arobases": 5, "mentions": ["teletravail"]}, "admin")
    assert "reason" in missing.value.fields
    kept = awards.awards.decide("app-1", {"arobases": 4, "mentions": ["teletravail"]}, "admin")
    assert kept["departs_from_proposal"] is False
    changed = awards.awards.decide(
        "app-1", {"arobases": 5, "mentions": ["teletravail"], "reason": "dossier remarquable"}, "admin"
    )
    assert changed["departs_from_proposal"] is True
    assert [h["arobases"] for h in changed["history"]] == [4]
    assert awards.repo.decision("app-1")["version"] == 2
    # A page's decisions, read by id: the undecided and the unknown are left out.
    assert awards.awards.decisions_of(["app-1", "app-2", "nulle-part"]) == {"app-1": changed}


def test_a_pages_decisions_are_read_by_the_shelves_its_rows_came_from(awards):
    first = awards.awards.decide("app-1", {"arobases": 4, "mentions": ["teletravail"]}, "admin")
    awards.awards.decide("app-3", {"arobases": 2, "mentions": [], "reason": "dossier mince"}, "admin")
    assert awards.repo.decision("app-1")["shelf_3"] == shelf("app-1", 3)
    # app-3 is on the shelf too, but not on the page; app-2 has no decision.
    assert awards.awards.decisions_of(["app-1", "app-2"], [[3, shelf("app-1", 3)]]) == {"app-1": first}
    # Nothing is read by id once shelves are given: none of them holds app-1.
    assert awards.awards.decisions_of(["app-1"], [[3, "ailleurs"]]) == {}


def test_decisions_stored_before_shelves_get_theirs_once(awards):
    awards.awards.decide("app-1", {"arobases": 4, "mentions": ["teletravail"]}, "admin")
    db = awards.repo.db
    db.decisions.update_many({}, {"$unset": shelf_fields("app-1")})
    db["migrations"].delete_many({"_id": "decision-shelves"})
    ensure_indexes(db)
    ensure_indexes(db)  # a second start (or a replica) finds it done
    assert {k: v for k, v in db.decisions.find_one({"_id": "app-1"}).items() if k.startswith("shelf_")} == (
        shelf_fields("app-1")
    )
    assert list(awards.awards.decisions_of(["app-1"], [[1, shelf("app-1", 1)]])) == ["app-1"]


def test_deliberation_ready_once_closed_and_every_application_proposed(awards):
    awards.clock.current = CLOSE - timedelta(minutes=1)
    awards.awards.decide("app-3", {"arobases": 2, "mentions": [], "reason": "x"}, "admin")
    awards.apply("app-3", collectivite("79202", "Parthenay"), proposal=2)
    assert awards.awards.check_deliberation_ready() == []  # still open
    awards.clock.current = CLOSE + timedelta(minutes=1)
    assert awards.awards.check_deliberation_ready() == [YEAR]
    assert awards.awards.check_deliberation_ready() == []
    assert awards.out.payloads("deliberation_ready")[0]["application_count"] == 3


def test_a_withdrawn_application_is_not_awaited_and_one_proposed_before_its_submission_counts(awards):
    awards.clock.current = CLOSE + timedelta(minutes=1)
    awards.awards.application_withdrawn(
        {"application_id": "app-3", "campaign_year": YEAR, "withdrawn_at": CLOSE.isoformat()}
    )
    awards.awards.application_reviewed(  # its application_submitted still on its way
        {
            "application_id": "app-4",
            "campaign_year": YEAR,
            "collectivite": collectivite("35238", "Rennes"),
            "proposal": {"arobases": 5, "mentions": []},
            "reviews": [],
            "disagreement": False,
        }
    )
    assert awards.awards.check_deliberation_ready() == [YEAR]
    assert awards.out.payloads("deliberation_ready")[0]["application_count"] == 3  # app-1, app-2, app-4


def test_a_proposal_arriving_during_the_readiness_check_is_seen_by_the_next_one(awards, monkeypatch):
    """Even where a write can be lost: FerretDB v1 writes an updated document
    back whole, as it read it. Here the check's bookkeeping write carries the
    state it read before app-3's proposal came in; that proposal must still
    make the next check scan again."""
    awards.clock.current = CLOSE + timedelta(minutes=1)
    scan, read = logic.Awards._active_and_proposed, {}

    def scan_while_app_3_is_proposed(self, year):
        found = scan(self, year)  # app-3 has no proposal yet
        read.update(awards.out.db.ready_state.find_one({"_id": year}) or {})
        awards.apply("app-3", collectivite("79202", "Parthenay"), proposal=2)
        return found

    def written_back_whole(year, fields):
        awards.out.db.ready_state.replace_one({"_id": year}, dict(read, **fields), upsert=True)

    monkeypatch.setattr(logic.Awards, "_active_and_proposed", scan_while_app_3_is_proposed)
    monkeypatch.setattr(awards.repo, "set_ready_state", written_back_whole)
    assert awards.awards.check_deliberation_ready() == []
    monkeypatch.undo()
    awards.clock.advance(minutes=1)
    assert awards.awards.check_deliberation_ready() == [YEAR]


def test_a_release_before_the_submissions_close_needs_force_and_a_reason(awards):
    awards.clock.current = CLOSE - timedelta(days=1)
    awards.awards.decide("app-3", {"arobases": 2, "mentions": [], "reason": "pas de proposition"}, "admin")
    for kwargs in ({}, {"force": True}, {"force": True, "reason": "  "}):
        with pytest.raises(Conflict) as early:
            release(awards, YEAR, "admin", **kwargs)
        assert (
            early.value.code == "submissions_open" and "1er octobre 2017 à 0 h 00" in early.value.message
        )  # Paris time
    assert awards.repo.release_step(YEAR) is None and awards.out.names() == []

    release(awards, YEAR, "admin", force=True, reason="Cérémonie avancée.")
    [released] = awards.out.payloads("results_released")
    assert released["early_release_reason"] == "Cérémonie avancée."


def test_after_the_release_no_proposal_changes(awards):
    awards.awards.decide("app-3", {"arobases": 2, "mentions": [], "reason": "pas de proposition"}, "admin")
    release(awards, YEAR, "admin")
    late = {
        "application_id": "app-2",
        "campaign_year": YEAR,
        "collectivite": collectivite("38185", "Grenoble"),
        "proposal": {"arobases": 5, "mentions": []},
        "reviews": [],
        "disagreement": False,
    }
    awards.awards.application_reviewed(late)
    rows = {row["application_id"]: row for row in awards.awards.deliberation(YEAR)}
    assert rows["app-2"]["proposal"]["arobases"] == 3


def test_labelled_in_n_absent_in_n_plus_1_back_in_n_plus_2(awards):
    """Labelled through the system in 2017, absent in 2018, applying in 2019: back."""
    awards.awards.decide("app-3", {"arobases": 2, "mentions": [], "reason": "pas de proposition"}, "admin")
    release(awards, YEAR, "admin")
    awards.awards.campaign_opened(
        {"year": 2019, "title": "Label 2019", "submissions_close_at": "2019-06-30T22:00:00+00:00",
         "ceremony_at": "2019-12-12T17:00:00+00:00", "ceremony_place": "Lille", "mentions": []}
    )  # fmt: skip
    besancon = collectivite("25056", "Besançon")
    awards.awards.application_submitted(
        {"application_id": "2019-1", "campaign_year": 2019, "collectivite": besancon, "submitted_at": "x"}
    )
    awards.awards.decide("2019-1", {"arobases": 3, "mentions": [], "reason": "vu sur place"}, "admin")
    [entry] = awards.awards.palmares(2019, logic.ORGANISER)["labelled"]
    assert (entry["progression"], entry["previous_arobases"], entry["previous_year"]) == ("back", 4, 2017)


def test_an_imported_past_palmares_is_the_history_before_the_system(awards):
    assert awards.awards.import_history(
        [{"year": 2014, "code": "38185", "name": "Grenoble", "arobases": 4, "mentions": []},
         {"year": 2016, "code": "38185", "name": "Grenoble", "arobases": 2, "mentions": []}]
    ) == {"imported": 2}  # fmt: skip
    entries = {e["application_id"]: e for e in awards.awards.palmares(YEAR, logic.ORGANISER)["labelled"]}
    grenoble, besancon = entries["app-2"], entries["app-1"]
    assert (grenoble["progression"], grenoble["previous_arobases"], grenoble["previous_year"]) == (
        "gained",
        2,
        2016,
    )
    assert besancon["progression"] == "new"


def test_a_released_result_is_read_from_its_bucket_alone(awards, monkeypatch):
    release(awards, YEAR, "admin", force=True)  # app-3, undecided, is not labelled
    public = {e["application_id"]: e for e in awards.awards.palmares(YEAR, None)["labelled"]}
    before = {
        app_id: awards.awards.application_result(app_id, "collectivite", col)
        for app_id, col in (("app-1", "col-25056"), ("app-2", "col-38185"), ("app-3", "col-79202"))
    }
    assert before["app-3"]["labelled"] is False
    for app_id in ("app-1", "app-2"):
        assert (before[app_id]["arobases"], before[app_id]["mentions"]) == (
            public[app_id]["arobases"],
            public[app_id]["mentions"],
        )
    # The public palmarès holds public fields only; the buckets hold the whole entries.
    assert all("feedback" not in e for doc in awards.repo.db.palmares.find() for e in doc["entries"])
    whole = [e for doc in awards.repo.db.results.find({"year": YEAR}) for e in doc["entries"]]
    assert {e["application_id"] for e in whole} == {"app-1", "app-2"} and all("feedback" in e for e in whole)
    # A release stored before the buckets (whole entries in its chunks) is read the former way.
    stored = awards.repo.release(YEAR)
    public_chunk = awards.repo.db.palmares.find_one({"_id": f"{YEAR}:0"})
    awards.repo.save_palmares_chunk(YEAR, 0, whole)
    awards.repo.db.releases.update_one({"_id": YEAR}, {"$unset": {"result_buckets": ""}})
    assert awards.awards.application_result("app-1", "collectivite", "col-25056") == before["app-1"]
    awards.repo.db.releases.update_one({"_id": YEAR}, {"$set": {"result_buckets": stored["result_buckets"]}})
    awards.repo.db.palmares.replace_one({"_id": f"{YEAR}:0"}, public_chunk)
    monkeypatch.setattr(awards.repo, "palmares_entries", lambda year: pytest.fail("the whole palmarès read"))
    assert awards.awards.application_result("app-2", "collectivite", "col-38185") == before["app-2"]
    assert awards.awards.application_result("app-3", "collectivite", "col-79202") == before["app-3"]


def test_a_released_palmares_read_chunk_by_chunk_is_the_whole(awards, monkeypatch):
    # One line to a chunk here (500 in the service), so that there are two.
    monkeypatch.setattr(release_protocol, "batches", lambda items: [[item] for item in items])
    for role, code in ((None, "results_embargoed"), (logic.ORGANISER, "palmares_not_released")):
        with pytest.raises(Conflict) as refused:
            awards.awards.palmares_chunk(YEAR, role, 0)
        assert refused.value.code == code
    assert awards.awards.palmares(YEAR, logic.ORGANISER, lines=False)["chunks"] is None  # a draft: read whole
    release(awards, YEAR, "admin", force=True)  # app-3, undecided, is not labelled
    whole = awards.awards.palmares(YEAR, None)
    figures = awards.awards.palmares(YEAR, None, lines=False)
    assert figures["chunks"] == whole["chunks"] == 2 and figures["labelled"] == []
    chunks = [awards.awards.palmares_chunk(YEAR, None, index) for index in range(figures["chunks"])]
    assert [len(chunk) for chunk in chunks] == [1, 1]
    assert [entry for chunk in chunks for entry in chunk] == whole["labelled"]
    assert awards.awards.palmares_chunk(YEAR, None, 2) == []


def test_a_parts_entries_fill_whole_buckets_each_entry_once_where_its_id_says():
    entries = [{"application_id": f"2017:{code:05d}"} for code in range(12345)]
    count = result_bucket_count(len(entries))
    assert count % RELEASE_PARTS == 0 and 12345 / count <= RESULT_BUCKET_SIZE
    written: dict[int, list] = {}
    for part, part_entries in by_release_part(entries).items():
        for index, bucket in result_buckets(part_entries, count).items():
            assert index % RELEASE_PARTS == part  # no two parts write one bucket
            assert index not in written
            written[index] = bucket
    assert sorted(e["application_id"] for b in written.values() for e in b) == sorted(
        e["application_id"] for e in entries
    )
    assert all(result_bucket(e["application_id"], count) == index for index, b in written.items() for e in b)
    assert result_bucket_count(0) == result_bucket_count(3) == RELEASE_PARTS
    assert result_buckets([], count) == {}


def test_a_click_is_a_request_the_timer_drafts_as_of_the_click(awards):
    requested = awards.awards.release(YEAR, "admin")
    assert (requested["state"], requested["requested_by"]) == ("requested", "admin")
    assert requested["frozen"] is True
    assert awards.repo.release_step(YEAR) is None and awards.out.names() == []  # nothing drafted yet
    # Decisions close at the click: the draft would not see them.
    with pytest.raises(Conflict) as closed:
        awards.awards.decide("app-3", {"arobases": 2, "mentions": [], "reason": "x"}, "admin")
    assert closed.value.code == "release_requested"
    # A proposal arriving after the click is not in the draft either: app-3 stays undecided.
    awards.clock.advance(minutes=1)
    awards.apply("app-3", collectivite("79202", "Parthenay", email=None), proposal=2)

    assert awards.awards.decide_requested_releases() == []
    refused = awards.awards.release_state(YEAR)
    assert (refused["state"], refused["frozen"]) == ("refused", False)
    assert refused["refusal"]["code"] == "applications_undecided"
    assert refused["refusal"]["message"].startswith("1 candidature(s) sans proposition ni décision")
    assert awards.repo.release_step(YEAR) is None and awards.out.names() == []

    # A new click replaces the refused request; its draft sees the proposal.
    awards.clock.advance(minutes=1)
    assert awards.awards.release(YEAR, "someone-else")["state"] == "requested"
    assert awards.awards.decide_requested_releases() == [YEAR]
    released = awards.awards.release_state(YEAR)
    assert (released["state"], released["released_by"]) == ("released", "someone-else")
    assert released["labelled_count"] == 3
    assert released["released_at"] == awards.clock().isoformat()  # the click's instant, not the timer's
    assert awards.awards.decide_requested_releases() == []  # nothing left standing


def test_a_second_click_while_one_stands_changes_nothing(awards):
    first = awards.awards.release(YEAR, "admin", force=True)
    awards.clock.advance(seconds=5)
    assert awards.awards.release(YEAR, "someone-else") == first
    assert awards.awards.decide_requested_releases() == [YEAR]
    (payload,) = awards.out.payloads("results_released")
    assert (payload["released_by"], payload["pending"]) == ("admin", ["app-3"])  # the first click's force


def test_a_click_on_a_campaign_not_heard_of_is_refused_and_its_state_is_not_requested(awards):
    with pytest.raises(NotFound):
        awards.awards.release(1999, "admin")
    # A withdrawal asks whether the release froze a campaign awards may not know yet.
    assert awards.awards.release_state(1999) == {"year": 1999, "state": "not_requested", "frozen": False}
    assert awards.awards.release_preview_tally(1999)["counts"] is None
    assert awards.awards.refresh_tallies() == 0  # nothing asked: its count would fail


def test_an_application_reviewed_before_its_submission_arrived_is_drafted_with_its_proposals_collectivite(
    awards,
):
    awards.awards.application_reviewed(
        {
            "application_id": "app-4",
            "campaign_year": YEAR,
            "collectivite": collectivite("21231", "Dijon"),
            "proposal": {"arobases": 2, "mentions": []},
            "reviews": [],
            "disagreement": False,
        }
    )
    draft = awards.awards.palmares(YEAR, logic.ORGANISER)
    [dijon] = [e for e in draft["labelled"] if e["application_id"] == "app-4"]
    assert (dijon["collectivite"]["name"], dijon["arobases"]) == ("Dijon", 2)


def test_the_write_out_reads_applications_part_by_part_and_finds_those_without_one(awards, monkeypatch):
    """A national write-out holds one release part's applications at a time;
    one stored without a part (by a replica of earlier code) or known only by
    its proposal still gets its result, to its collectivité's address."""
    awards.repo.db.applications.update_one({"_id": "app-2"}, {"$unset": {"part": ""}})
    awards.awards.application_reviewed(
        {
            "application_id": "app-4",
            "campaign_year": YEAR,
            "collectivite": collectivite("21231", "Dijon", email="dijon@example.fr"),
            "proposal": {"arobases": 2, "mentions": []},
            "reviews": [],
            "disagreement": False,
        }
    )
    read = []
    applications_of = awards.repo.campaign_applications

    def campaign_applications(year, part=None):
        read.append(part)
        return applications_of(year, part)

    monkeypatch.setattr(awards.repo, "campaign_applications", campaign_applications)
    release(awards, YEAR, "admin", force=True)
    sent = {p["application_id"]: p["collectivite"] for p in awards.out.payloads("award_decided")}
    assert sent == {
        "app-1": collectivite("25056", "Besançon"),
        "app-2": collectivite("38185", "Grenoble"),
        "app-4": collectivite("21231", "Dijon", email="dijon@example.fr"),
    }
    parts = {release_part(app_id) for app_id in sent}
    assert read[0] is None and sorted(read[1:]) == sorted(
        parts
    )  # the draft's one stream, then a part at a time


def test_applications_stored_before_release_parts_get_theirs():
    rig = Awards()
    rig.repo.db.applications.insert_one({"_id": "app-9", "campaign_year": YEAR, "collectivite": {}})
    rig.repo.db.migrations.delete_many({})
    ensure_indexes(rig.repo.db)
    assert rig.repo.db.applications.find_one({"_id": "app-9"})["part"] == release_part("app-9")


def test_region_chunks_say_where_each_regions_lines_are():
    regions = [("Bretagne", "Corse"), ("Corse", "Corse"), ("Corse", "Occitanie")]
    chunks = [[{"region": region} for region in chunk] for chunk in regions]
    assert region_chunks(chunks) == [
        {"region": "Bretagne", "first": 0, "last": 0},
        {"region": "Corse", "first": 0, "last": 2},
        {"region": "Occitanie", "first": 2, "last": 2},
    ]
    assert region_chunks([]) == []


def test_a_released_palmares_is_read_by_region_or_as_figures_alone(awards):
    breton = dict(collectivite("29019", "Brest"), region="Bretagne")
    awards.apply("app-4", breton, proposal=2)
    release(awards, YEAR, "admin", force=True)
    assert awards.repo.release(YEAR)["region_chunks"] == [
        {"region": "Bourgogne-Franche-Comté", "first": 0, "last": 0},
        {"region": "Bretagne", "first": 0, "last": 0},
    ]
    bretagne = awards.awards.palmares(YEAR, None, region="Bretagne")
    assert [e["collectivite"]["name"] for e in bretagne["labelled"]] == ["Brest"]
    assert bretagne["stats"]["labelled_count"] == 3  # the figures stay the year's
    assert awards.awards.palmares(YEAR, None, region="Corse")["labelled"] == []
    figures = awards.awards.palmares(YEAR, None, lines=False)
    assert figures["labelled"] == [] and figures["stats"]["by_region"] == {
        "Bourgogne-Franche-Comté": 2,
        "Bretagne": 1,
    }
    # An organiser's draft is read by region the same way.
    draft = Awards()
    draft.apply("app-4", breton, proposal=2)
    draft.apply("app-1", collectivite("25056", "Besançon"), proposal=4)
    lines = draft.awards.palmares(YEAR, logic.ORGANISER, region="Bretagne")["labelled"]
    assert lines[0]["collectivite"]["name"] == "Brest" and len(lines) == 1


def test_a_release_begun_before_release_parts_is_finished_with_its_own_keys(awards, monkeypatch):
    """Its events already out keep their keys (an event id is an email's): no
    line is recorded again under a part's key."""

    def crash(*args):
        raise RuntimeError("process killed")

    monkeypatch.setattr(logic.Awards, "release_feedback", crash)
    with pytest.raises(RuntimeError):
        release(awards, YEAR, "admin", force=True)
    monkeypatch.undo()
    # As the code before release parts left it: its first batch recorded and published.
    campaign, _, entries = awards.awards._draft(YEAR)
    app = awards.awards.repo.application(entries[0]["application_id"])
    event = (contracts.AWARD_DECIDED, award_payload(YEAR, app["collectivite"], entries[0], campaign))
    awards.out.session.record(unparted_batch_key(YEAR, 0), [event], independent=True)
    published = len(awards.out.publisher.events)

    awards.clock.advance(minutes=4)  # the dead completer's lease ran out
    assert awards.awards.finish_interrupted_releases() == [YEAR]
    keys = {c["doc_id"] for c in awards.out.db.changes.find({"collection": "steps"})}
    assert {k for k in keys if k.startswith(f"release:{YEAR}")} == {
        f"release:{YEAR}",
        unparted_batch_key(YEAR, 0),
    }
    assert len(awards.out.publisher.events) == published  # nothing new went out
    assert awards.awards.application_result("app-1", "collectivite", "col-25056")["arobases"] == 4


def test_an_organisers_draft_export_is_its_draft_chunk_by_chunk_then_swept(awards, monkeypatch):
    # One line to a chunk here (500 in the service), so that there are two.
    monkeypatch.setattr(logic, "batches", lambda items: [[item] for item in items])
    with pytest.raises(Conflict) as refused:
        awards.awards.draft_export(YEAR, None)
    assert refused.value.code == "results_embargoed"
    draft = awards.awards.palmares(YEAR, logic.ORGANISER)
    head = awards.awards.draft_export(YEAR, logic.ORGANISER)
    export, count = head.pop("export"), head.pop("chunks")
    assert head == {k: v for k, v in draft.items() if k not in ("labelled", "chunks")}
    assert head["pending"] == ["app-3"] and count == 2
    chunks = [awards.awards.draft_chunk(export, index) for index in range(count)]
    assert [entry for chunk in chunks for entry in chunk] == draft["labelled"]
    assert awards.awards.draft_chunk(export, count) == []
    # A second export is another's; the first is swept once old enough, the second stays.
    awards.clock.advance(seconds=logic.DRAFT_EXPORT_SECONDS - 1)
    second = awards.awards.draft_export(YEAR, logic.ORGANISER)["export"]
    awards.clock.advance(seconds=2)
    assert awards.awards.sweep_draft_exports() == 2
    assert awards.awards.draft_chunk(export, 0) == []
    assert awards.awards.draft_chunk(second, 0) == chunks[0]
    release(awards, YEAR, "admin", force=True)
    with pytest.raises(Conflict) as refused:
        awards.awards.draft_export(YEAR, logic.ORGANISER)
    assert refused.value.code == "palmares_released"
