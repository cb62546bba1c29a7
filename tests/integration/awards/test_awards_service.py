"""AwardsService in a nameko container against the real RabbitMQ and FerretDB:
events in (fed as the other services would publish them), decisions, embargo,
an idempotent release that emits one set of events, batched for big campaigns."""

import uuid

import bson
import pytest
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_hook, entrypoint_waiter

from services.awards.release import batch_key, by_release_part, release_key, release_part
from services.awards.service import AwardsService
from services.common import topology
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.ledger import Ledger, find_step, step_id
from services.common.mongo import make_client
from services.common.relay import Outbox
from services.gateway.releasing import request_release
from tests.support.api import poll, wait_until
from tests.support.config import service_config

YEAR = 2016
RECEIVED = []


class Probe:
    """Listens to what awards publishes, as the notifications service would."""

    name = "awards_probe"

    @event_handler("awards", "award_decided")
    def award_decided(self, payload):
        RECEIVED.append(payload)

    @event_handler("awards", "results_released")
    def results_released(self, payload):
        RECEIVED.append(payload)

    @event_handler("awards", "deliberation_ready")
    def deliberation_ready(self, payload):
        RECEIVED.append(payload)


# What the click that decided a release fixes: a later click changes none of it.
DECIDED = ("year", "released_at", "released_by", "labelled_count", "pending")


@pytest.fixture
def config(rabbit_config, mongodb_uri, db_prefix):
    topology.declare_all(rabbit_config["AMQP_URI"])
    RECEIVED.clear()
    return service_config(
        rabbit_config,
        MONGODB_URI=mongodb_uri,
        MONGODB_DATABASE_PREFIX=db_prefix,
        OUTBOX_SWEEP_SECONDS=0.5,
        INBOX_MAX_ATTEMPTS=2,
        INBOX_BACKOFF_SECONDS=0.05,
    )


@pytest.fixture
def services(container_factory, config):
    awards = container_factory(AwardsService, config)
    probe = container_factory(Probe, config)
    probe.start()
    awards.start()
    return awards


def received(name, year=YEAR):
    """What a consumer would handle: delivery is at least once (the relay's
    sweep may publish a record again), consumers drop a repeated event id."""
    unique = {}
    for payload in RECEIVED:
        if payload["event"] == name and payload["campaign_year"] == year:
            unique.setdefault(payload["event_id"], payload)
    return list(unique.values())


def collectivite(n, email="ok"):
    return {
        "id": f"col-{n}",
        "insee_code": f"{25000 + n}",
        "name": f"Commune {n}",
        "kind": "commune",
        "category": "ville",
        "department": "25",
        "region": "Bourgogne-Franche-Comté",
        "population": 5000 + n,
        "email": f"mairie{n}@example.fr" if email == "ok" else email,
    }


def envelope(name, n, **payload):
    return dict(
        payload,
        event_id=f"test:{name}:{n}:{uuid.uuid4().hex[:6]}",
        event=name,
        occurred_at="2016-01-01T10:00:00+00:00",
    )


def campaign_opened(year=YEAR):
    return envelope(
        "campaign_opened",
        year,
        year=year,
        title=f"Label {year}",
        submissions_open_at="2015-09-01T00:00:00+00:00",
        submissions_close_at="2015-12-01T00:00:00+00:00",
        ceremony_at="2016-02-01T10:00:00+01:00",
        ceremony_place="Lille",
        reviews_per_application=2,
        enjeux=[{"code": "e1", "label": "Culture"}],
        mentions=[
            {"code": "telework", "label": "Télétravail"},
            {"code": "opengov", "label": "Gouvernement ouvert"},
        ],
    )


def submitted(n, year=YEAR, email="ok"):
    return envelope(
        "application_submitted",
        n,
        application_id=f"app-{year}-{n}",
        campaign_year=year,
        collectivite=collectivite(n, email),
        services=[],
        initiatives=[],
        reviews_per_application=2,
        enjeux=["e1"],
        mentions=["telework"],
        submitted_at="2015-10-01T10:00:00+00:00",
    )


def reviewed(n, arobases, mentions=(), year=YEAR):
    return envelope(
        "application_reviewed",
        n,
        application_id=f"app-{year}-{n}",
        campaign_year=year,
        collectivite=collectivite(n),
        proposal={"arobases": arobases, "mentions": list(mentions)},
        reviews=[
            {
                "review_id": f"r{n}",
                "juror_id": "j1",
                "arobases": arobases,
                "mentions": list(mentions),
                "scores": {"e1": 3},
                "comment": "bien",
            }
        ],
        disagreement=False,
    )


def test_decisions_embargo_and_one_release(services, config):
    awards = services
    # Events arrive over RabbitMQ as the submissions and jury services publish them.
    with entrypoint_waiter(awards, "on_campaign_opened"):
        event_dispatcher(config)("submissions", "campaign_opened", campaign_opened())
    with (
        entrypoint_hook(awards, "on_application_submitted") as submit,
        entrypoint_hook(awards, "on_application_reviewed") as review,
        entrypoint_hook(awards, "on_application_withdrawn") as withdraw,
    ):
        submit([submitted(1), submitted(2, email="pas-une-adresse"), submitted(3), submitted(4)])  # one batch
        review(reviewed(1, 4, ["telework"]))
        review(reviewed(2, 2))
        review(reviewed(4, 5))
        withdraw(
            envelope(
                "application_withdrawn",
                4,
                application_id="app-2016-4",
                campaign_year=YEAR,
                collectivite=collectivite(4),
                withdrawn_at="2015-11-01T10:00:00+00:00",
            )
        )

    with ServiceRpcProxy("awards", config) as rpc:
        # The preview (release page, API): a tally, first drafted by the timer.
        assert rpc.release_preview_tally(YEAR)["counts"] is None
        tally = poll(lambda: rpc.release_preview_tally(YEAR), lambda t: t["counts"] is not None, timeout=20)
        assert tally["recounting"] is False
        assert tally["counts"] == {
            "ready": False,
            "released": False,
            "labelled_count": 2,
            "by_arobases": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0},
            "undecided": ["app-2016-3"],
            "missing_email": ["col-2"],
            "emails_to_send": 1,
        }
        # A campaign not heard of yet: no count asked (the timer's would fail).
        assert rpc.release_preview_tally(1999)["counts"] is None
        with pytest.raises(Conflict) as refused:
            request_release(rpc, YEAR, "admin", {}, wait=30)  # refused by the timer's draft
        assert refused.value.code == "applications_undecided"
        assert rpc.release_state(YEAR)["state"] == "refused"

        # Departing from the proposal needs a reason; following it does not.
        with pytest.raises(ValidationFailed) as no_reason:
            rpc.decide("app-2016-1", {"arobases": 5, "mentions": ["telework"]}, "admin")
        assert "reason" in no_reason.value.fields
        with pytest.raises(ValidationFailed):
            rpc.decide("app-2016-1", {"arobases": 5, "mentions": ["nope"], "reason": "x"}, "admin")
        with pytest.raises(NotFound):
            rpc.decide("app-unknown", {"arobases": 3, "mentions": []}, "admin")
        with pytest.raises(Conflict):
            rpc.decide("app-2016-4", {"arobases": 3, "mentions": []}, "admin")  # withdrawn
        rpc.decide("app-2016-2", {"arobases": 2, "mentions": []}, "org-1")
        decision = rpc.decide(
            "app-2016-1", {"arobases": 5, "mentions": ["telework"], "reason": "Projet remarquable"}, "org-2"
        )
        assert decision["departs_from_proposal"] is True and decision["decided_by"] == "org-2"
        decision = rpc.decide("app-2016-3", {"arobases": 3, "mentions": ["opengov"]}, "org-2")
        assert decision["reason"] is None and decision["decided_at"]
        rows = {r["application_id"]: r for r in rpc.deliberation(YEAR)}
        assert set(rows) == {"app-2016-1", "app-2016-2", "app-2016-3"}
        assert rows["app-2016-1"]["proposal"] == {"arobases": 4, "mentions": ["telework"]}
        assert rows["app-2016-1"]["decision"]["reason"] == "Projet remarquable"

        # Embargo: nobody but an organiser sees a result; nothing is published.
        for role in (None, "collectivite", "juror"):
            with pytest.raises(Conflict) as embargo:
                rpc.palmares(YEAR, role)
            assert embargo.value.code == "results_embargoed"
        with pytest.raises(Conflict):
            rpc.application_result("app-2016-1", "collectivite", "col-1")
        draft = rpc.palmares(YEAR, "organiser")
        assert draft["draft"] is True and draft["stats"]["by_arobases"]["5"] == 1
        assert received("award_decided") == [] and received("results_released") == []

        first = request_release(rpc, YEAR, "admin", {}, wait=30)
        second = request_release(rpc, YEAR, "someone-else", {}, wait=30)
        assert first["state"] in ("releasing", "released")
        assert [first[k] for k in DECIDED] == [second[k] for k in DECIDED]  # the first click decided
        assert first["released_by"] == "admin" and first["labelled_count"] == 3
        assert poll(lambda: rpc.release_state(YEAR), lambda s: s["state"] == "released", timeout=30)

        assert wait_until(lambda: len(received("award_decided")) >= 3 and received("results_released"))
        # The sweep and the recovery timer, driven: they find nothing more to publish.
        relay = next(dep for dep in services.dependencies if isinstance(dep, Outbox)).relay
        assert [relay.sweep() for _ in range(3)] == [0, 0, 0]
        with entrypoint_hook(services, "finish_interrupted_releases") as finish:
            assert not finish()
        awarded = received("award_decided")
        assert sorted(p["application_id"] for p in awarded) == ["app-2016-1", "app-2016-2", "app-2016-3"]
        assert len(received("results_released")) == 1
        by_app = {p["application_id"]: p for p in awarded}
        assert by_app["app-2016-1"]["arobases"] == 5
        assert by_app["app-2016-1"]["mentions"] == [{"code": "telework", "label": "Télétravail"}]
        assert by_app["app-2016-1"]["ceremony_place"] == "Lille"
        assert by_app["app-2016-2"]["collectivite"]["email"] == "pas-une-adresse"

        for role in (None, "collectivite", "juror", "organiser"):
            palmares = rpc.palmares(YEAR, role)
            assert palmares["released_at"] == first["released_at"] and palmares["draft"] is False
            assert palmares["stats"]["by_arobases"] == {"1": 0, "2": 1, "3": 1, "4": 0, "5": 1}
            assert all("email" not in e["collectivite"] for e in palmares["labelled"])
        assert rpc.application_result("app-2016-1", "collectivite", "col-1")["arobases"] == 5
        with pytest.raises(NotFound):
            rpc.application_result("app-2016-1", "collectivite", "col-2")  # not theirs
        with pytest.raises(Conflict) as late:
            rpc.decide("app-2016-2", {"arobases": 3, "mentions": [], "reason": "trop tard"}, "admin")
        assert late.value.code == "results_released"
        assert rpc.released_campaigns() == [
            {"year": YEAR, "released_at": first["released_at"], "labelled_count": 3}
        ]

    db = make_client(config["MONGODB_URI"])[f"{config['MONGODB_DATABASE_PREFIX']}awards"]
    release = find_step(db, release_key(YEAR))
    assert release is not None and not Ledger(db).is_pending(release["_id"])
    # The release record, and one batch to each release part its three applications fall in.
    parts = {release_part(f"app-{YEAR}-{n}") for n in (1, 2, 3)}
    steps = db.changes.count_documents({"collection": "steps", "doc_id": {"$regex": f"^release:{YEAR}"}})
    assert steps == 1 + len(parts)


def test_deliberation_ready_once_when_every_application_has_a_proposal(services, config):
    awards = services
    with (
        entrypoint_hook(awards, "on_campaign_opened") as opened,
        entrypoint_hook(awards, "on_application_submitted") as submit,
        entrypoint_hook(awards, "on_application_reviewed") as review,
    ):
        opened(campaign_opened(2017))
        submit([submitted(1, year=2017), submitted(2, year=2017)])
        review(reviewed(1, 3, year=2017))
        with entrypoint_hook(awards, "check_deliberation_ready") as check:
            assert 2017 not in check()  # one application still waits for its proposal
        assert received("deliberation_ready", 2017) == []
        review(reviewed(2, 4, year=2017))
        review(reviewed(2, 5, year=2017))  # a later consolidation replaces the first
    assert wait_until(lambda: received("deliberation_ready", 2017))
    # entrypoint_hook hands back the method's next finished worker, which may be
    # the timer's run: only once the emission is on record is every run's answer known.
    db = make_client(config["MONGODB_URI"])[f"{config['MONGODB_DATABASE_PREFIX']}awards"]
    assert wait_until(lambda: (db.ready_state.find_one({"_id": 2017}) or {}).get("emitted"))
    with entrypoint_hook(awards, "check_deliberation_ready") as check:
        assert 2017 not in check()  # sent once: the check does not send it again
    assert [p["application_count"] for p in received("deliberation_ready", 2017)] == [2]


def test_a_big_release_is_split_into_batches_and_a_retry_recreates_the_same_keys(services, config):
    """1,001 applications: one release record, then a batch record of
    award_decided events for each release part, each well under MongoDB's
    16 MB document limit (35,000 events in one document would not be)."""
    year, count = 2018, 1001
    awards = services
    with entrypoint_hook(awards, "on_campaign_opened") as opened:
        opened(campaign_opened(year))
    db = make_client(config["MONGODB_URI"])[f"{config['MONGODB_DATABASE_PREFIX']}awards"]
    db.applications.insert_many(
        [
            {"_id": f"app-{year}-{n:05d}", "campaign_year": year, "collectivite": collectivite(n)}
            for n in range(count)
        ]
    )
    app_ids = [f"app-{year}-{n:05d}" for n in range(count)]
    db.proposals.insert_many(
        [
            {
                "_id": f"app-{year}-{n:05d}",
                "campaign_year": year,
                "part": release_part(f"app-{year}-{n:05d}"),
                "collectivite": collectivite(n),
                "proposal": {"arobases": n % 5 + 1, "mentions": []},
                "reviews": [],
                "disagreement": False,
            }
            for n in range(count)
        ]
    )
    with ServiceRpcProxy("awards", config, timeout=120) as rpc:
        first = request_release(rpc, year, "admin", {}, wait=60)
        assert first["labelled_count"] == count
        assert poll(lambda: rpc.release_state(year), lambda s: s["state"] == "released", timeout=60)
        # Pretend the writing out crashed after the decision: forget what it wrote out.
        db.releases.delete_one({"_id": year})
        again = rpc.release(year, "admin")
        assert again["state"] == "releasing" and [again[k] for k in DECIDED] == [first[k] for k in DECIDED]
    steps = sorted(
        db.changes.find({"collection": "steps", "doc_id": {"$regex": f"^release:{year}"}}),
        key=lambda c: c["doc_id"],
    )
    [decision, *batches] = steps
    assert decision["doc_id"] == f"release:{year}" and len(decision["events"]) == 1
    # One batch to each release part the applications fall in (all 64 here).
    parts = by_release_part({"application_id": app_id} for app_id in app_ids)
    assert [s["doc_id"] for s in batches] == sorted(batch_key(year, part, 0) for part in parts)
    assert sorted(len(s["events"]) for s in batches) == sorted(len(p) for p in parts.values())
    biggest = max(len(bson.encode(s)) for s in batches)
    assert biggest < 200_000, biggest  # so about 550 to a part at 35,000, far below 16 MB
    assert wait_until(lambda: len(received("award_decided", year)) >= count, timeout=60)
    events = received("award_decided", year)
    assert len(events) == count and {p["application_id"] for p in events} == set(app_ids)
    assert len({p["event_id"] for p in events}) == count
    for p in events:  # each from its part's batch
        assert p["event_id"].rsplit(":", 1)[0] == step_id(
            batch_key(year, release_part(p["application_id"]), 0)
        )
    assert len(received("results_released", year)) == 1


def campaign_reviewed(awards, year, count, lowest):
    """A campaign whose `count` applications have their proposals (lowest, lowest + 1…)."""
    with entrypoint_hook(awards, "on_campaign_opened") as opened:
        opened(campaign_opened(year))
    for n in range(count):
        with entrypoint_hook(awards, "on_application_submitted") as handle:
            handle([submitted(n, year)])
        with entrypoint_hook(awards, "on_application_reviewed") as handle:
            handle(reviewed(n, n + lowest, year=year))


def test_a_release_interrupted_after_its_decision_is_finished_by_the_timer(services, config):
    """The release record was decided, then the service died before writing
    the award batches: the recovery timer finishes it, with no new call."""
    from services.awards.release import release_key
    from services.common import contracts
    from services.common.clock import isoformat, utcnow
    from services.common.ledger import Ledger

    year, count = 2019, 3
    campaign_reviewed(services, year, count, lowest=2)
    db = make_client(config["MONGODB_URI"])[f"{config['MONGODB_DATABASE_PREFIX']}awards"]
    Ledger(db).record(
        release_key(year),
        [
            (
                contracts.RESULTS_RELEASED,
                {
                    "campaign_year": year,
                    "released_at": isoformat(utcnow()),
                    "released_by": "admin",
                    "labelled_count": count,
                    "pending": [],
                },
            )
        ],
    )  # decided; nothing written out, nothing published

    with entrypoint_waiter(services, "finish_interrupted_releases", timeout=30):
        pass  # the next timer tick
    assert db.releases.find_one({"_id": year})["complete"] is True
    assert wait_until(lambda: len(received("award_decided", year)) == count, timeout=30)
    assert sorted(p["arobases"] for p in received("award_decided", year)) == [2, 3, 4]
    assert len(received("results_released", year)) == 1


def test_a_click_stored_before_a_crash_is_decided_by_the_restarted_timer(services, config):
    """The service died right after storing the organiser's click: nothing was
    drafted, nothing recorded. The timer of the service running now decides it."""
    from services.common.clock import utcnow

    year, count = 2020, 2
    campaign_reviewed(services, year, count, lowest=3)
    db = make_client(config["MONGODB_URI"])[f"{config['MONGODB_DATABASE_PREFIX']}awards"]
    clicked = utcnow()
    db.release_requests.insert_one(
        {
            "_id": year,
            "state": "requested",
            "requested_at": clicked,
            "requested_by": "admin",
            "force": False,
            "reason": None,
            "refusal": None,
        }
    )
    with ServiceRpcProxy("awards", config, timeout=30) as rpc:
        state = poll(lambda: rpc.release_state(year), lambda s: s["state"] == "released", timeout=30)
    assert (state["released_by"], state["labelled_count"]) == ("admin", count)
    assert wait_until(lambda: len(received("award_decided", year)) == count, timeout=30)
    assert db.release_requests.find_one({"_id": year})["state"] == "decided"
