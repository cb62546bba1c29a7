"""MongoDatabase: a nameko dependency giving each service its own database.

The client is built once per container (MongoClientExtension, shared by every
provider that needs the database; pymongo's pool is safe to share between
green threads) and closed on `stop` and `kill`. Each worker gets the same
`pymongo.database.Database`.
"""

from collections.abc import Callable, Mapping
from typing import Any

from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider, SharedExtension
from pymongo import DeleteOne, MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from services.common.types import Doc

DEFAULT_URI = "mongodb://127.0.0.1:27017/"
# Our FerretDB (v1 on PostgreSQL) never answers a bulk of 50 or more updates
# of existing documents (measured: 48 in 70 ms, 50 past the 30 s socket
# timeout), so a bulk update goes at most this many to a round trip.
UPDATES_PER_BULK = 40
# Documents to a cursor's batch, for the streamed reads of big documents:
# FerretDB v1 answers a getMore with 250 documents whatever their size, where
# MongoDB stops at 16 MB (FerretDB#2824), pymongo refuses a reply over 48 MB,
# and the reader holds a whole batch's bytes at once.
READ_BATCH = 200


def delete_ids(collection: Collection[Doc], ids: list[Any], shared: Doc | None = None) -> None:
    """Delete the documents `ids`. With `shared`, an equality they all meet (a
    batch they were written in): one delete, which FerretDB serves from an
    index where `_id $in` alone is a scan of the collection. Else one bulk of
    deletes by `_id`."""
    if not ids:
        return
    if shared:
        collection.delete_many({**shared, "_id": {"$in": ids}})
    else:
        collection.bulk_write([DeleteOne({"_id": doc_id}) for doc_id in ids], ordered=False)


def update_in_bulks(collection: Collection[Doc], updates: list[UpdateOne]) -> None:
    """Unordered bulk writes of at most UPDATES_PER_BULK updates each."""
    for start in range(0, len(updates), UPDATES_PER_BULK):
        collection.bulk_write(updates[start : start + UPDATES_PER_BULK], ordered=False)


def database_name(config: Mapping[str, Any], service_name: str) -> str:
    return f"{config.get('MONGODB_DATABASE_PREFIX', 'label_')}{service_name}"


def make_client(uri: str) -> MongoClient[Doc]:
    # Short server selection so a missing database fails a request in seconds,
    # not the 30 s default; pymongo reconnects by itself when the server returns.
    return MongoClient(
        uri,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        socketTimeoutMS=30000,
        maxPoolSize=50,
        retryWrites=False,  # FerretDB has no sessions; our writes are idempotent instead
        tz_aware=True,
    )


class MongoClientExtension(SharedExtension):
    """One pymongo client (one pool, one set of monitors) per service
    container, shared by every provider that needs the database; built in
    `setup`, closed on `stop` and `kill` (nameko-sqlalchemy's lifecycle).
    nameko stops it after the dependencies that use it."""

    def __init__(self) -> None:
        self.client: MongoClient[Doc] | None = None
        self._building = Semaphore()

    def get_client(self) -> MongoClient[Doc]:
        # nameko sets extensions up concurrently: whichever provider asks
        # first builds the client, the others wait for it.
        with self._building:
            if self.client is None:
                self.client = make_client(self.container.config.get("MONGODB_URI", DEFAULT_URI))
            return self.client

    def setup(self) -> None:
        self.get_client()

    def stop(self) -> None:
        self._close()

    def kill(self) -> None:
        self._close()

    def _close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


class ServiceDatabaseProvider(DependencyProvider):
    """Base of the providers that need the service's own database (MongoDatabase,
    Inbox, Outbox). Subclasses call `super().setup()`, then use `self.database`."""

    mongo = MongoClientExtension()

    def __init__(self, service_name: str) -> None:
        self.service_name = service_name
        self.database: Database[Doc] | None = None

    def setup(self) -> None:
        self.database = self.mongo.get_client()[database_name(self.container.config, self.service_name)]

    def set_up_database(self) -> Database[Doc]:
        """The database, once `setup` ran."""
        if self.database is None:
            raise RuntimeError(f"{type(self).__name__} used before its setup")
        return self.database


class MongoDatabase(ServiceDatabaseProvider):
    """Each worker gets the service's `pymongo.database.Database`."""

    def __init__(
        self, service_name: str, ensure_indexes: Callable[[Database[Doc]], None] | None = None
    ) -> None:
        super().__init__(service_name)
        self.ensure_indexes = ensure_indexes

    def start(self) -> None:
        if self.ensure_indexes is not None:
            self.ensure_indexes(self.set_up_database())

    def get_dependency(self, worker_ctx: Any) -> Database[Doc]:
        return self.set_up_database()
