"""The gateway waits a few seconds for a release request's outcome (releasing.py)."""

import pytest

from services.common.errors import Conflict
from services.gateway.releasing import first_count, public_palmares, request_release


class Awards:
    """The awards service's answers, one per call: the click's, then each poll's."""

    def __init__(self, *states):
        self.states = list(states)
        self.calls = []

    def release(self, year, by, options):
        self.calls.append(("release", year, by, options))
        return self.states.pop(0)

    def release_state(self, year):
        self.calls.append(("release_state", year))
        return self.states.pop(0)


REQUESTED = {"year": 2017, "state": "requested"}
RELEASING = {"year": 2017, "state": "releasing", "released_by": "orga-1"}
RELEASED = {"year": 2017, "state": "released", "released_by": "orga-1"}
REFUSED = {
    "year": 2017,
    "state": "refused",
    "refusal": {"code": "applications_undecided", "message": "2 candidature(s) sans proposition ni décision"},
}


def test_the_outcome_is_read_again_until_the_palmares_is_written_out():
    awards, naps = Awards(REQUESTED, RELEASING, RELEASED), []
    assert request_release(awards, 2017, "orga-1", {"force": False}, sleep=naps.append) == RELEASED
    assert [call[0] for call in awards.calls] == ["release", "release_state", "release_state"]
    assert len(naps) == 2


def test_a_refusal_is_a_conflict_with_its_french_reason():
    awards = Awards(REQUESTED, REFUSED)
    with pytest.raises(Conflict) as refused:
        request_release(awards, 2017, "orga-1", {}, sleep=lambda seconds: None)
    assert refused.value.code == "applications_undecided"
    assert "sans proposition ni décision" in refused.value.message


def test_a_draft_longer_than_the_wait_answers_requested():
    awards = Awards(REQUESTED, REQUESTED)
    assert request_release(awards, 2017, "orga-1", {}, wait=0, sleep=lambda seconds: None) == REQUESTED
    assert [call[0] for call in awards.calls] == ["release"]


def test_a_first_count_is_waited_for_a_few_seconds_only():
    tallies = [{"counts": None}, {"counts": None}, {"counts": {"ready": True}}]
    assert first_count(lambda: tallies.pop(0), sleep=lambda seconds: None) == {"counts": {"ready": True}}
    never = first_count(lambda: {"counts": None}, wait=0, sleep=lambda seconds: None)
    assert never == {"counts": None}  # the API answers 503, Retry-After


def test_a_release_answered_released_drops_the_embargo_this_gateway_kept():
    def embargoed():
        raise Conflict("Le palmarès 2017 n'est pas encore publié.", "results_embargoed")

    with pytest.raises(Conflict):
        public_palmares.get(("json", 2017), embargoed, public=True)
    with pytest.raises(Conflict):  # kept: the crowd refreshing costs the awards service nothing
        public_palmares.get(("json", 2017), lambda: pytest.fail("loaded again"), public=True)
    request_release(Awards(RELEASING), 2017, "orga-1", {}, sleep=lambda _: None, wait=0)
    with pytest.raises(Conflict):  # still being written out: nothing dropped
        public_palmares.get(("json", 2017), lambda: pytest.fail("loaded again"), public=True)
    request_release(Awards(RELEASED), 2017, "orga-1", {}, sleep=lambda _: None)
    assert public_palmares.get(("json", 2017), lambda: "publié", public=True) == "publié"
    public_palmares.clear()
