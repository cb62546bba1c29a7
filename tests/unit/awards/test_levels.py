"""The label's history (`levels`): written in bulk at a release, read back by code."""

from services.awards import repository
from services.awards.repository import AwardsRepository
from tests.unit.fakes import memory_database


def test_a_release_writes_every_level_in_round_trips_of_many_and_keeps_earlier_years(monkeypatch):
    monkeypatch.setattr(repository, "LEVELS_PER_ROUND_TRIP", 2)
    repo = AwardsRepository(memory_database())
    repo.record_levels(2016, [("75056", 4)], "imported")
    rows = [("75056", 5), ("69123", 3), ("13055", 2), ("31555", 4), ("06088", 1)]
    repo.record_levels(2017, rows, "released")
    repo.record_levels(2017, rows, "released")  # a completer's retry writes the same
    levels = repo.levels_of([code for code, _ in rows] + ["99999"])
    assert levels == {
        "75056": {2016: 4, 2017: 5},
        "69123": {2017: 3},
        "13055": {2017: 2},
        "31555": {2017: 4},
        "06088": {2017: 1},
    }
    assert repo.db.levels.find_one({"_id": "75056"})["years"]["2017"]["source"] == "released"
