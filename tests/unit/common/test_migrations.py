"""A start-up migration runs once per database, its marker written after it."""

import pytest

from services.common.migrations import MIGRATIONS, migration
from tests.unit.fakes import memory_database


def test_a_migration_runs_once_and_again_if_it_failed_before_its_marker():
    runs = []

    @migration("sample")
    def migrate(db):
        runs.append(db.name)
        if len(runs) == 1:
            raise RuntimeError("the database went away mid-way")

    db = memory_database()
    with pytest.raises(RuntimeError):
        migrate(db)
    assert db[MIGRATIONS].count_documents({}) == 0  # not marked: the next start does it again
    migrate(db)
    migrate(db)
    assert len(runs) == 2 and db[MIGRATIONS].find_one({"_id": "sample"}) is not None
    migrate(memory_database())  # another database: its own run
    assert len(runs) == 3
