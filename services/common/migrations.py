"""Start-up migrations: a change to the documents a service stored before,
made once per database. A marker in `migrations` says it is done; a replica
running it at the same moment writes the same, so each must be idempotent."""

import functools
from collections.abc import Callable

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.types import Doc

MIGRATIONS = "migrations"

Migration = Callable[[Database[Doc]], None]


def migration(name: str) -> Callable[[Migration], Migration]:
    """Makes `migrate(db)` run once per database, under the marker `name`."""

    def decorate(migrate: Migration) -> Migration:
        @functools.wraps(migrate)
        def once(db: Database[Doc]) -> None:
            if db[MIGRATIONS].find_one({"_id": name}) is not None:
                return
            migrate(db)
            try:
                db[MIGRATIONS].insert_one({"_id": name})
            except DuplicateKeyError:
                pass  # a replica finished it too

        return once

    return decorate
