"""The jury's feedback (awards/feedback.py and its use cases): averages per
category per enjeu against hand-computed figures, "non applicable" scores
left out, the comments' moderation states, and the release that freezes
the feedback (a collectivité reads only its own, never before the release)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.awards import feedback, logic
from services.awards.release import release_part
from services.awards.repository import AwardsRepository, ensure_indexes
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.gateway import responses
from tests.unit.awards.releasing import release
from tests.unit.fakes import Clock, MemoryOutbox

T0 = datetime(2017, 10, 1, 9, 0, tzinfo=UTC)


def review(rid, scores, comment="", mentions=(), arobases=3):
    return {
        "review_id": rid,
        "juror_id": f"juror-{rid}",
        "arobases": arobases,
        "mentions": list(mentions),
        "scores": scores,
        "comment": comment,
    }


# -- computation ------------------------------------------------------------


def test_application_scores_average_the_jurors_and_skip_non_applicable():
    reviews = [review("a", {"acces": 3, "culture": None}), review("b", {"acces": 2, "culture": None})]
    assert feedback.application_scores(reviews) == {"acces": 2.5}


def test_category_averages_weigh_each_application_once_and_skip_non_applicable():
    apps = [
        # ville 1: acces (4+2)/2 = 3, culture only one juror scored it: 1
        ("ville", [review("a", {"acces": 4, "culture": None}), review("b", {"acces": 2, "culture": 1})]),
        # ville 2: acces 0 (three jurors all 0), culture non applicable for all
        ("ville", [review(c, {"acces": 0, "culture": None}) for c in "cde"]),
        ("village", [review("f", {"acces": 4, "culture": 3})]),
    ]
    averages = feedback.category_averages(apps)
    assert averages == {
        "ville": {"acces": 1.5, "culture": 1.0},  # culture: ville 2 has none, left out (not a 0)
        "village": {"acces": 4.0, "culture": 3.0},
    }


def test_feedback_in_grid_order_rounded_with_missing_scores_as_none():
    reviews = [
        review("a", {"acces": 3, "culture": None}, mentions=["tele"]),
        review("b", {"acces": 2, "culture": None}, mentions=["tele", "edu"]),
    ]
    averages = {"ville": {"acces": 2.3333, "education": 1.0}}
    enjeux = [
        {"code": "acces", "label": "Accès"},
        {"code": "culture", "label": "Culture"},
        {"code": "education", "label": "Éducation"},
    ]
    result = feedback.feedback("ville", reviews, averages, enjeux, {"tele": "Télétravail"}, {})
    assert result["scores"] == [
        {"enjeu": "acces", "label": "Accès", "score": 2.5, "category_average": 2.3},
        {"enjeu": "culture", "label": "Culture", "score": None, "category_average": None},
        {"enjeu": "education", "label": "Éducation", "score": None, "category_average": 1.0},
    ]
    # proposed by at least one juror, most proposed first; an unknown code keeps its code
    assert result["proposed_mentions"] == [
        {"code": "tele", "label": "Télétravail"},
        {"code": "edu", "label": "edu"},
    ]
    assert result["comments"] == []  # nothing approved
    assert "juror" not in repr(result)


def entry(state, text=None, minutes=0):
    return {"state": state, "text": text, "by": "orga-1", "at": T0 + timedelta(minutes=minutes)}


def test_moderation_states_decide_what_the_collectivite_reads():
    reviews = [
        review("pending", {}, comment="Pas encore relu."),
        review("ok", {}, comment="  Très bon portail citoyen.  "),
        review("edit", {}, comment="Le juré Dupont trouve le site lent."),
        review("hide", {}, comment="Remarque désobligeante."),
        review("empty", {}, comment="   "),
    ]
    moderation = {
        "ok": [entry("approved")],
        "edit": [entry("approved"), entry("edited", "Le site pourrait être plus rapide.", 5)],
        "hide": [entry("approved"), entry("hidden", minutes=5)],
        "empty": [entry("approved")],
    }
    assert feedback.released_comments(reviews, moderation) == [
        "Très bon portail citoyen.",
        "Le site pourrait être plus rapide.",
    ]
    # as of before the later entries: the edit and the hide had not happened yet
    assert feedback.released_comments(reviews, moderation, as_of=T0 + timedelta(minutes=1)) == [
        "Très bon portail citoyen.",
        "Le juré Dupont trouve le site lent.",
        "Remarque désobligeante.",
    ]
    rows = feedback.comments_for_moderation(reviews, moderation)
    assert [(r["number"], r["state"]) for r in rows] == [
        (1, "pending"),
        (2, "approved"),
        (3, "edited"),
        (4, "hidden"),
    ]
    assert rows[2]["text"] == "Le site pourrait être plus rapide."
    assert all("juror" not in repr(r) for r in rows)


def test_released_comments_are_bounded():
    reviews = [review(str(i), {}, comment="x" * (feedback.MAX_COMMENT_CHARS + 50)) for i in range(15)]
    moderation = {str(i): [entry("approved")] for i in range(15)}
    texts = feedback.released_comments(reviews, moderation)
    assert len(texts) == feedback.MAX_COMMENTS
    assert {len(t) for t in texts} == {feedback.MAX_COMMENT_CHARS}


# -- use cases over the real repository, in memory -----------------------------

YEAR = 2017


def collectivite(insee, name, category="ville"):
    return {
        "id": f"col-{insee}",
        "insee_code": insee,
        "name": name,
        "kind": "commune",
        "category": category,
        "department": insee[:2],
        "region": "Bretagne",
        "population": 20000 if category == "ville" else 900,
        "email": "mairie@example.fr",
        "member_communes": [],
    }


class Desk:
    def __init__(self):
        self.out = MemoryOutbox()
        self.repo = AwardsRepository(self.out.db)
        self.clock = Clock(datetime(2017, 10, 15, 9, 0, tzinfo=UTC))
        self.awards.campaign_opened(
            {
                "year": YEAR,
                "title": "Label 2018",
                "submissions_close_at": "2017-09-30T22:00:00+00:00",
                "ceremony_at": "2017-12-12T17:00:00+00:00",
                "ceremony_place": "Lille Grand Palais",
                "mentions": [{"code": "tele", "label": "Télétravail"}],
                "enjeux": [
                    {"code": "acces", "label": "Accès au numérique", "services": []},
                    {"code": "culture", "label": "Culture", "services": []},
                ],
            }
        )

    @property
    def awards(self):
        return logic.Awards(self.repo, self.out.session, self.clock())

    def reviewed(self, app_id, col, reviews):
        self.awards.application_submitted(
            {"application_id": app_id, "campaign_year": YEAR, "collectivite": col, "submitted_at": "x"}
        )
        self.awards.application_reviewed(
            {
                "application_id": app_id,
                "campaign_year": YEAR,
                "collectivite": col,
                "proposal": {"arobases": 3, "mentions": []},
                "reviews": reviews,
                "disagreement": False,
            }
        )


@pytest.fixture
def desk():
    d = Desk()
    d.reviewed(
        "2017:a",
        collectivite("35238", "Rennes"),
        [
            review("r1", {"acces": 4, "culture": None}, "Belle démarche participative.", ["tele"]),
            review("r2", {"acces": 2, "culture": 3}, "Le juré Martin regrette un site lent."),
            review("r3", {"acces": 3, "culture": 3}, "Propos à ne pas transmettre."),
        ],
    )
    d.reviewed("2017:b", collectivite("29019", "Brest"), [review("r4", {"acces": 1, "culture": 1})])
    d.reviewed(
        "2017:c", collectivite("29001", "Argol", "village"), [review("r5", {"acces": 0, "culture": 4})]
    )
    return d


def test_moderation_then_release_freezes_the_feedback(desk):
    awards = desk.awards
    awards.moderate_comment("2017:a", "r1", {"state": "approved"}, "orga-1")
    awards.moderate_comment(
        "2017:a", "r2", {"state": "edited", "text": "Le site pourrait être plus rapide."}, "orga-1"
    )
    awards.moderate_comment("2017:a", "r3", {"state": "hidden"}, "orga-1")
    assert [c["state"] for c in desk.awards.comments("2017:a")] == ["approved", "edited", "hidden"]

    with pytest.raises(Conflict):  # embargo: the collectivité reads nothing before the release
        desk.awards.application_result("2017:a", "collectivite", "col-35238")
    desk.awards.decide(
        "2017:a", {"arobases": 3, "mentions": ["tele"], "reason": "Télétravail exemplaire."}, "orga-1"
    )
    desk.clock.advance(minutes=1)
    release(desk, YEAR, "orga-1")

    result = desk.awards.application_result("2017:a", "collectivite", "col-35238")
    fb = result["feedback"]
    assert fb["comments"] == ["Belle démarche participative.", "Le site pourrait être plus rapide."]
    # Rennes: acces (4+2+3)/3 = 3.0, culture (3+3)/2 = 3.0; villes: acces (3+1)/2 = 2.0, culture (3+1)/2 = 2.0
    assert fb["scores"] == [
        {"enjeu": "acces", "label": "Accès au numérique", "score": 3.0, "category_average": 2.0},
        {"enjeu": "culture", "label": "Culture", "score": 3.0, "category_average": 2.0},
    ]
    assert fb["proposed_mentions"] == [{"code": "tele", "label": "Télétravail"}]
    # the village is compared with villages only (itself)
    village = desk.awards.application_result("2017:c", "collectivite", "col-29001")["feedback"]
    assert village["scores"][0]["category_average"] == 0.0
    # the award_decided event carries the same feedback (the result email); no juror id anywhere
    [payload] = [p for p in desk.out.payloads("award_decided") if p["application_id"] == "2017:a"]
    assert payload["feedback"] == fb
    assert "juror-" not in repr(desk.out.payloads("award_decided"))
    # the public palmarès never carries it
    palmares = desk.awards.palmares(YEAR, None)
    assert all("feedback" not in e for e in palmares["labelled"])
    # both as the API's OpenAPI document describes them: mentions by code and label
    assert result["mentions"] == [{"code": "tele", "label": "Télétravail"}]
    assert responses.ApplicationResult().validate(result) == {}
    assert responses.Palmares().validate(palmares) == {}
    # another collectivité's result stays hidden
    with pytest.raises(NotFound):
        desk.awards.application_result("2017:a", "collectivite", "col-29019")
    # after the release, no comment changes
    with pytest.raises(Conflict):
        desk.awards.moderate_comment("2017:a", "r3", {"state": "approved"}, "orga-1")


def test_moderation_rejects_an_unknown_comment_and_an_empty_edit(desk):
    with pytest.raises(NotFound):
        desk.awards.moderate_comment("2017:a", "r9", {"state": "approved"}, "orga-1")
    with pytest.raises(NotFound):  # r4 has no comment to moderate
        desk.awards.moderate_comment("2017:b", "r4", {"state": "approved"}, "orga-1")
    with pytest.raises(ValidationFailed) as error:
        desk.awards.moderate_comment("2017:a", "r1", {"state": "edited", "text": "  "}, "orga-1")
    assert "text" in error.value.fields
    assert [c["state"] for c in desk.awards.comments("2017:a")] == ["pending"] * 3


def test_a_comment_too_long_to_release_must_be_shortened(desk):
    long = "Très long commentaire. " * 100  # 2,300 characters
    desk.reviewed("2017:d", collectivite("29039", "Concarneau"), [review("r6", {"acces": 2}, long)])
    with pytest.raises(ValidationFailed) as error:
        desk.awards.moderate_comment("2017:d", "r6", {"state": "approved"}, "orga-1")
    assert "raccourcir" in error.value.fields["state"][0]
    shorter = {"state": "edited", "text": long[:500]}
    assert desk.awards.moderate_comment("2017:d", "r6", shorter, "orga-1")["state"] == "edited"


def test_reviews_and_moderations_stored_before_release_parts_get_theirs_once(desk):
    desk.awards.moderate_comment("2017:a", "r1", {"state": "approved"}, "orga-1")
    db = desk.out.db
    for name in ("proposals", "moderation"):
        db[name].update_many({}, {"$unset": {"part": ""}})
    db["migrations"].delete_many({"_id": "release-parts"})
    ensure_indexes(db)
    ensure_indexes(db)  # a second start (or a replica) finds it done
    assert {p["_id"]: p["part"] for p in db.proposals.find()} == {
        app_id: release_part(app_id) for app_id in ("2017:a", "2017:b", "2017:c")
    }
    assert [m["part"] for m in db.moderation.find()] == [release_part("2017:a")]
    # The write-out, reading by part, finds them: Rennes's approved comment and its scores.
    release(desk, YEAR, "orga-1", force=True)
    fb = desk.awards.application_result("2017:a", "collectivite", "col-35238")["feedback"]
    assert fb["comments"] == ["Belle démarche participative."]
    assert fb["scores"][0] == {
        "enjeu": "acces",
        "label": "Accès au numérique",
        "score": 3.0,
        "category_average": 2.0,
    }


def test_reviews_written_without_a_part_after_the_migration_still_reach_the_release(desk):
    """As a replica still running the code before release parts writes them, during a deploy."""
    desk.awards.moderate_comment("2017:a", "r1", {"state": "approved"}, "orga-1")
    for name in ("proposals", "moderation"):
        desk.out.db[name].update_many({}, {"$unset": {"part": ""}})
    release(desk, YEAR, "orga-1", force=True)
    fb = desk.awards.application_result("2017:a", "collectivite", "col-35238")["feedback"]
    assert fb["comments"] == ["Belle démarche participative."]
    assert fb["scores"][0]["score"] == 3.0
