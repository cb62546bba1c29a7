"""The label's history (`levels`): written at a release, read back by code in bulk."""

from services.awards import repository
from services.awards.repository import AwardsRepository
from tests.unit.fakes import memory_database


def test_a_release_writes_every_level_read_back_in_round_trips_of_many_and_keeps_earlier_years(monkeypatch):
    monkeypatch.setattr(repository, "LEVELS_PER_READ", 3)
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


def test_a_national_release_writes_its_levels_in_bulks_the_local_server_answers(monkeypatch):
    from services.common import mongo

    repo = AwardsRepository(memory_database())
    sizes = []
    write = repo.db.levels.bulk_write
    monkeypatch.setattr(
        repo.db.levels, "bulk_write", lambda ops, **kw: sizes.append(len(ops)) or write(ops, **kw)
    )
    rows = [(f"{n:05d}", n % 5 + 1) for n in range(2 * mongo.UPDATES_PER_BULK + 3)]
    repo.record_levels(2017, rows, "released")
    assert sizes == [mongo.UPDATES_PER_BULK, mongo.UPDATES_PER_BULK, 3]
    assert repo.db.levels.count_documents({}) == len(rows)
