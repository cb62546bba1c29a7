"""MongoDatabase: a nameko dependency giving each service its own database.

The client is built once per container in `setup` (pymongo keeps its own
connection pool, safe to share between green threads) and closed on `stop`
and `kill`. Each worker gets the same `pymongo.database.Database`.
"""
import logging

from nameko.extensions import DependencyProvider
from pymongo import MongoClient

log = logging.getLogger(__name__)

DEFAULT_URI = "mongodb://127.0.0.1:27017/"


def database_name(config, service_name):
    return f"{config.get('MONGODB_DATABASE_PREFIX', 'label_')}{service_name}"


def make_client(uri):
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


class ServiceDatabaseProvider(DependencyProvider):
    """Base of the providers that need the service's own database: builds the
    client in `setup`, closes it on `stop` and `kill` (nameko-sqlalchemy's
    lifecycle). Subclasses call `super().setup()`, then use `self.database`."""

    def __init__(self, service_name):
        self.service_name = service_name
        self.client = None
        self.database = None

    def setup(self):
        config = self.container.config
        self.client = make_client(config.get("MONGODB_URI", DEFAULT_URI))
        self.database = self.client[database_name(config, self.service_name)]

    def stop(self):
        self._close()

    def kill(self):
        self._close()

    def _close(self):
        if self.client is not None:
            self.client.close()
            self.client = None


class MongoDatabase(ServiceDatabaseProvider):
    """Each worker gets the service's `pymongo.database.Database`."""

    def __init__(self, service_name, ensure_indexes=None):
        super().__init__(service_name)
        self.ensure_indexes = ensure_indexes

    def start(self):
        if self.ensure_indexes is not None:
            self.ensure_indexes(self.database)

    def get_dependency(self, worker_ctx):
        return self.database
