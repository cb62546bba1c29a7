"""The jury's pure rules: consolidation of reviews (services/jury/consolidation.py),
eligibility and leases (services/jury/eligibility.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import ValidationFailed
from services.jury import consolidation, eligibility


def review(arobases, mentions=(), **scores):
    return {"arobases": arobases, "mentions": list(mentions), "scores": scores or {"e1": 2}}


# -- median and its rounding rule --------------------------------------------


@pytest.mark.parametrize(
    "values, expected",
    [
        ([3], 3),
        ([2, 4, 3], 3),
        ([5, 1, 5], 5),
        ([3, 4], 3),  # even count: the lower of the two middle values
        ([4, 5], 4),
        ([1, 2, 4, 5], 2),  # 2 and 4 in the middle: 3 would be the mean, we keep 2
        ([3, 3, 4, 4], 3),
        ([4, 4, 4, 4], 4),
    ],
)
def test_median_takes_the_lower_middle_value(values, expected):
    assert consolidation.median_arobases(values) == expected


def test_median_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        consolidation.median_arobases([])


# -- mentions by majority ---------------------------------------------------


def test_mention_kept_when_proposed_by_a_strict_majority():
    assert consolidation.majority_mentions([["teletravail"], ["teletravail", "accessibilite"], []]) == [
        "teletravail"
    ]


def test_mention_tie_is_not_a_majority():
    assert consolidation.majority_mentions([["teletravail"], []]) == []
    assert consolidation.majority_mentions([["a", "b"], ["a"], ["b"], []]) == []


def test_mention_proposed_twice_by_one_review_counts_once():
    assert consolidation.majority_mentions([["a", "a"], [], []]) == []


def test_mentions_sorted_most_proposed_first_and_filtered_to_the_campaign_list():
    lists = [["b", "a", "x"], ["a", "b", "x"], ["a"]]
    assert consolidation.majority_mentions(lists) == ["a", "b", "x"]
    assert consolidation.majority_mentions(lists, allowed={"a", "b"}) == ["a", "b"]


# -- disagreement and spread -------------------------------------------------


@pytest.mark.parametrize(
    "values, expected",
    [
        ([3, 4], False),
        ([3, 3, 3], False),
        ([3, 5], True),
        ([1, 2, 3], True),
        ([5, 4, 5], False),
        ([2], False),
    ],
)
def test_disagreement_when_two_proposals_differ_by_two_or_more(values, expected):
    assert consolidation.has_disagreement(values) is expected


def test_spread_per_enjeu_is_kept():
    spread = consolidation.score_spread(
        [{"acces": 4, "culture": 1}, {"acces": 0, "culture": 1}, {"acces": 2}],
        enjeux=["acces", "culture", "sport"],
    )
    assert spread == {
        "acces": {"min": 0, "max": 4, "spread": 4},
        "culture": {"min": 1, "max": 1, "spread": 0},
    }


def test_consolidate_gives_proposal_flag_and_spread():
    result = consolidation.consolidate([review(3, ["a"], e1=1), review(4, ["a", "b"], e1=3)], enjeux=["e1"])
    assert result == {
        "proposal": {"arobases": 3, "mentions": ["a"]},
        "disagreement": False,
        "spread": {"e1": {"min": 1, "max": 3, "spread": 2}},
    }


def test_disagreement_opens_one_extra_review_then_proposes():
    reviews = [review(2), review(4)]
    step, result = consolidation.next_step(reviews, ["e1"], [], extra_review_opened=False)
    assert step == "extra_review" and result["disagreement"] is True
    # with the extra review in, a proposal is made even if they still disagree
    step, result = consolidation.next_step(reviews + [review(5)], ["e1"], [], extra_review_opened=True)
    assert step == "propose"
    assert result["proposal"]["arobases"] == 4 and result["disagreement"] is True


def test_agreement_proposes_at_once():
    step, result = consolidation.next_step([review(3), review(4)], ["e1"], [], extra_review_opened=False)
    assert step == "propose" and result["proposal"]["arobases"] == 3


# -- eligibility, leases, claim order ---------------------------------------

JUROR = {"_id": "j1", "department": "25", "conflicts": ["69123", "200046977"]}
NOW = datetime(2201, 3, 1, tzinfo=UTC)


def collectivite(insee, department, members=()):
    return {
        "id": f"c{insee}",
        "insee_code": insee,
        "department": department,
        "member_communes": list(members),
    }


def test_conflicts_own_department_declared_code_and_member_communes():
    assert eligibility.conflicted(JUROR, collectivite("25056", "25"))
    assert eligibility.conflicted(JUROR, collectivite("69123", "69"))
    assert eligibility.conflicted(JUROR, collectivite("200046977", "69"))  # SIREN of an EPCI
    assert eligibility.conflicted(JUROR, collectivite("200000001", "69", ["69123"]))  # a member commune
    assert not eligibility.conflicted(JUROR, collectivite("59350", "59"))
    assert eligibility.conflicted({"department": "2a", "conflicts": []}, collectivite("2A004", "2A"))


def task(app, n, state="open", lease=None, juror=None, department="59"):
    return {
        "_id": f"{app}:{n}",
        "application_id": app,
        "n": n,
        "campaign_year": 2201,
        "state": state,
        "lease_expires_at": lease,
        "claimed_by": juror,
        "collectivite": collectivite("59350", department),
        "version": 1,
    }


def test_an_expired_claim_is_claimable_again_and_shows_as_open():
    expired = task("a", 1, "claimed", NOW - timedelta(seconds=1), "j9")
    live = task("a", 2, "claimed", NOW + timedelta(hours=1), "j9")
    assert eligibility.claimable(expired, NOW) and not eligibility.claimable(live, NOW)
    assert eligibility.task_view(expired, NOW)["state"] == "open"
    assert "claimed_by" not in eligibility.task_view(expired, NOW)
    assert eligibility.task_view(live, NOW, "j9")["lease_expires_at"].startswith("2201-03-01T01:00")
    assert not eligibility.held_by(expired, "j9", NOW) and eligibility.held_by(live, "j9", NOW)


def test_claim_order_fewest_reviews_first_and_never_a_conflict():
    tasks = [
        task("busy", 1, "done"),
        task("busy", 2),
        task("fresh", 1),
        task("fresh", 2),
        task("half", 1, "claimed", NOW + timedelta(hours=1), "j2"),
        task("half", 2),
        task("mine", 1, department="25"),
    ]
    order = eligibility.claim_order(tasks, JUROR, NOW)
    assert [app for app, _ in order][0] == "fresh"
    held = tasks + [task("held", 1, "claimed", NOW + timedelta(hours=1), "j1"), task("held", 2)]
    assert "held" not in dict(eligibility.claim_order(held, JUROR, NOW))  # never two tasks of one application
    assert {app for app, _ in order} == {"fresh", "busy", "half"}
    assert [t["_id"] for t in dict(order)["fresh"]] == ["fresh:1", "fresh:2"]


def test_the_claim_index_follows_each_claim_without_reading_every_task():
    index = eligibility.ClaimIndex([task("a", 1), task("a", 2), task("b", 1), task("b", 2)], NOW)
    first, _ = next(index.order(JUROR, NOW))
    second = "b" if first == "a" else "a"
    assert not index.started(first)
    claimed = dict(task(first, 1, "claimed", NOW + timedelta(hours=1), "j1"), version=2)
    index.update(claimed)  # this process's own claim, written into its copy
    assert index.started(first)
    # j1 holds a task of `first`: only `second` is offered; another juror gets
    # `second` first too (fewest reviews), then what is left of `first`.
    assert [app for app, _ in index.order(JUROR, NOW)] == [second]
    other = dict(JUROR, _id="j2")
    assert [(app, [t["n"] for t in tasks]) for app, tasks in index.order(other, NOW)] == [
        (second, [1, 2]),
        (first, [2]),
    ]
    index.update(dict(task(second, 1, "done", None, "j2"), version=3))
    index.update(dict(task(second, 2, "done", None, "j3"), version=3))
    assert [app for app, _ in index.order(other, NOW)] == [first]  # nothing left of `second`


def test_a_claim_copy_entry_reads_as_its_task_document_and_keeps_only_what_a_claim_needs():
    app = "".join(["2201:", "lille"])  # a string of its own, as each decoded document brings
    doc = dict(
        task(app, 1, "claimed", NOW + timedelta(hours=1), "j2"), version=2, created_at=NOW, shelf_1="a"
    )
    doc["collectivite"] = dict(doc["collectivite"], name="Lille", population=232_000)
    kept = eligibility.ClaimTask(doc)
    assert dict(kept) == {key: doc[key] for key in kept if key != "collectivite"} | {
        "collectivite": collectivite("59350", "59")
    }
    assert "created_at" not in kept and kept.get("shelf_1") is None and kept.get(0, "none") == "none"
    with pytest.raises(KeyError):
        kept["created_at"]
    for moment in (NOW, NOW + timedelta(hours=2)):  # the lease holding, then lapsed
        assert eligibility.claimable(kept, moment) == eligibility.claimable(doc, moment)
        assert eligibility.held_by(kept, "j2", moment) == eligibility.held_by(doc, "j2", moment)
    sibling = eligibility.ClaimTask(
        dict(doc, _id=f"{app}:2", n=2, application_id="".join(["2201:", "lille"]))
    )
    assert sibling["application_id"] is kept["application_id"]  # one string per application


def test_an_application_whose_lease_ran_out_is_back_in_the_claim_index_without_a_new_copy():
    held = dict(task("a", 1, "claimed", NOW + timedelta(hours=1), "j2"), version=2)
    index = eligibility.ClaimIndex([held], NOW)
    assert list(index.order(JUROR, NOW)) == []
    later = NOW + timedelta(hours=1, seconds=1)
    assert [(app, [t["n"] for t in tasks]) for app, tasks in index.order(JUROR, later)] == [("a", [1])]


def test_the_digest_count_follows_the_conflict_rule_without_a_pass_per_juror():
    """eligibility.OpenTasks against `conflicted` applied task by task."""
    import random

    rng = random.Random(11)
    departments = ["25", "38", "2A", "2a", "75"]
    tasks = []
    for n in range(300):
        members = [f"{rng.randrange(100):05d}" for _ in range(rng.randrange(3))]
        collectivite = {
            "id": f"col-{n}",
            "insee_code": f"{rng.randrange(100):05d}",
            "department": rng.choice(departments),
            "member_communes": members,
        }
        app_id = f"app-{n // 2}"  # two tasks per application
        tasks.append(
            {
                "_id": f"{app_id}:{n % 2 + 1}",
                "application_id": app_id,
                "collectivite": collectivite,
                "created_at": NOW + timedelta(minutes=rng.randrange(1000)),
            }
        )
    jurors = [
        {
            "_id": f"j{n}",
            "department": rng.choice(departments),
            "conflicts": [f"{rng.randrange(100):05d}" for _ in range(rng.randrange(4))]
            + [f"COL-{rng.randrange(300)}"],
        }
        for n in range(50)
    ]
    open_tasks = eligibility.OpenTasks(code for juror in jurors for code in juror["conflicts"])
    for one in tasks:
        open_tasks.add(one)
    # Kept by code: the tasks with a code some juror declared, not every code of every task.
    assert len(open_tasks._by_code) <= len({code.upper() for juror in jurors for code in juror["conflicts"]})
    for juror in jurors:
        assigned = {f"app-{rng.randrange(150)}" for _ in range(rng.randrange(20))}
        mine = [
            one
            for one in tasks
            if not eligibility.conflicted(juror, one["collectivite"])
            and one["application_id"] not in assigned
        ]
        expected = (len(mine), max((one["created_at"] for one in mine), default=None))
        assert open_tasks.for_juror(juror, assigned) == expected


def test_lease_from_config():
    assert eligibility.lease_duration({"CLAIM_LEASE_HOURS": 48, "CLAIM_LEASE_SECONDS": None}) == timedelta(
        hours=48
    )
    assert eligibility.lease_duration({"CLAIM_LEASE_HOURS": 48, "CLAIM_LEASE_SECONDS": "2"}) == timedelta(
        seconds=2
    )
    assert eligibility.lease_duration({}) == timedelta(hours=48)


def test_review_checked_against_the_campaign_grid():
    ok = {"scores": {"e1": 3, "e2": 0}, "arobases": 3, "mentions": ["a"], "comment": ""}
    consolidation.check_review(ok, ["e1", "e2"], ["a", "b"])
    with pytest.raises(ValidationFailed) as err:
        consolidation.check_review(
            {"scores": {"e1": 3, "zz": 1}, "arobases": 3, "mentions": ["c", "a", "a"]}, ["e1", "e2"], ["a"]
        )
    assert set(err.value.fields) == {"scores.zz", "scores", "mentions"}


def test_a_non_applicable_score_is_left_out_of_the_spread():
    spread = consolidation.score_spread(
        [{"E1": None, "E2": 1}, {"E1": 4, "E2": 3}, {"E1": None, "E2": None}], ["E1", "E2", "E3"]
    )
    assert spread == {"E1": {"min": 4, "max": 4, "spread": 0}, "E2": {"min": 1, "max": 3, "spread": 2}}


def test_two_reviews_of_one_application_each_keep_their_own_consolidation_marker():
    """Two reviews at once each owe a consolidation: one review's clear() leaves
    the other's marker, and the markers are only inserted and deleted by `_id`
    (FerretDB v1 writes a filtered update or delete back by `_id` alone; in
    place, the second review's marker could go with the first's clear)."""
    from datetime import UTC, datetime, timedelta

    from services.jury.repository import PendingConsolidations
    from tests.unit.fakes import memory_database

    pending = PendingConsolidations(memory_database())
    now = datetime(2017, 10, 1, tzinfo=UTC)
    first = pending.mark("2017:25056", now)
    second = pending.mark("2017:25056", now)
    assert first != second
    pending.clear("2017:25056", first)
    assert pending.due(now + timedelta(seconds=1)) == [("2017:25056", second)]
    pending.clear("2017:25056", second)
    assert pending.due(now + timedelta(seconds=1)) == []


def test_a_marker_written_before_markers_were_one_per_review_is_still_swept():
    from datetime import UTC, datetime, timedelta

    from services.jury.repository import PendingConsolidations
    from tests.unit.fakes import memory_database

    db = memory_database()
    pending = PendingConsolidations(db)
    now = datetime(2017, 10, 1, tzinfo=UTC)
    db["consolidations_pending"].insert_one({"_id": "2017:25056", "at": now, "token": "old"})
    assert pending.due(now + timedelta(seconds=1)) == [("2017:25056", "2017:25056")]
    pending.clear("2017:25056", "2017:25056")
    assert pending.due(now + timedelta(seconds=1)) == []


def test_a_task_read_again_unchanged_leaves_the_claim_index_as_it_was():
    held = dict(task("a", 1, "claimed", NOW + timedelta(hours=1), "j2"), version=2)
    index = eligibility.ClaimIndex([held], NOW)
    for _ in range(3):  # three refreshes of the copy
        index.learn(dict(held))
    assert len(index._leases) == 1  # one lease, not one per read
    index.learn(dict(held, version=1))  # an older read: ignored
    assert index._tasks["a"]["a:1"]["version"] == 2
    index.learn(dict(task("a", 1, "done", None, "j2"), version=3))
    assert index._tasks["a"]["a:1"]["state"] == "done"
