"""A release as the organiser's click and the awards timer's next tick make
it (services/awards/release.py), refused as the gateway refuses it."""

from services.common.errors import Conflict


def release(rig, year, by, **options):
    """`rig.awards`: a use-case object at the rig's clock."""
    rig.awards.release(year, by, **options)
    rig.awards.decide_requested_releases()
    state = rig.awards.release_state(year)
    if state["state"] == "refused":
        raise Conflict(state["refusal"]["message"], state["refusal"]["code"])
    return state
