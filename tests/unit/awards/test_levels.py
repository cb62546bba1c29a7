"""The label's history (`level_buckets`): written at a release by year and
bucket, read back by bucket for many codes at once."""

from services.awards import repository
from services.awards.repository import LEVELS, AwardsRepository, ensure_indexes, level_bucket
from tests.unit.fakes import memory_database


def test_a_release_writes_every_level_read_back_by_bucket_and_keeps_earlier_years():
    repo = AwardsRepository(memory_database())
    repo.record_levels(2016, [("75056", 4)], "imported")
    rows = [("75056", 5), ("69123", 3), ("13055", 2), ("31555", 4), ("06088", 1), ("2A004", 2)]
    repo.record_levels(2017, rows, "released")
    repo.record_levels(2017, rows, "released")  # a completer's retry writes the same
    levels = repo.levels_of([code for code, _ in rows] + ["99999"])
    assert levels == {
        "75056": {2016: 4, 2017: 5},
        "69123": {2017: 3},
        "13055": {2017: 2},
        "31555": {2017: 4},
        "06088": {2017: 1},
        "2A004": {2017: 2},
    }
    bucket = repo.db[LEVELS].find_one({"_id": f"2017:{level_bucket('75056')}"})
    assert bucket["levels"]["75056"] == {"arobases": 5, "source": "released"}


def test_a_national_release_writes_one_document_per_bucket(monkeypatch):
    repo = AwardsRepository(memory_database())
    writes = []
    update = repo.db[LEVELS].update_one
    monkeypatch.setattr(
        repo.db[LEVELS], "update_one", lambda *args, **kw: writes.append(args[0]) or update(*args, **kw)
    )
    rows = [(f"{n:05d}", n % 5 + 1) for n in range(3500)]
    repo.record_levels(2017, rows, "released")
    assert len(writes) == repo.db[LEVELS].count_documents({}) == repository.LEVEL_BUCKETS
    assert len(repo.levels_of(code for code, _ in rows)) == len(rows)


def test_levels_stored_one_document_per_collectivite_move_to_buckets_once():
    db = memory_database()
    db["levels"].insert_many(
        [
            {"_id": "75056", "years": {"2016": {"arobases": 4, "source": "imported"}}},
            {
                "_id": "69123",
                "years": {
                    "2016": {"arobases": 2, "source": "imported"},
                    "2017": {"arobases": 3, "source": "released"},
                },
            },
        ]
    )
    ensure_indexes(db)
    ensure_indexes(db)  # a second start (or a replica) finds it done
    assert "levels" not in db.list_collection_names()
    assert AwardsRepository(db).levels_of(["75056", "69123"]) == {
        "75056": {2016: 4},
        "69123": {2016: 2, 2017: 3},
    }
    bucket = db[LEVELS].find_one({"_id": f"2017:{level_bucket('69123')}"})
    assert bucket["levels"]["69123"]["source"] == "released"
