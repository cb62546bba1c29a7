"""The `health` RPC every service answers; the gateway's /health asks each one."""

from typing import Any

from nameko.rpc import rpc


class HealthRpc:
    """Mixin for a service class that has a `db` (MongoDatabase) dependency."""

    db: Any  # the service's MongoDatabase: a pymongo Database inside a worker

    @rpc
    def health(self) -> dict[str, str]:
        self.db.command("ping")  # proves this service reaches its own database
        return {"status": "ok"}
