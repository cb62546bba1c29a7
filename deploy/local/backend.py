"""Which storage the local FerretDB uses, and the PostgreSQL cluster it needs.

    FERRETDB_BACKEND=sqlite|postgresql      (default written once: deploy/config.yaml)
    python -m deploy.local.backend          # prints the choice; exit 2 on a bad value

sqlite: SQLite files in a directory (one writer at a time). postgresql: a
database of the cluster deploy/local/postgres.sh keeps under var/postgres/.
Read by stack.sh and procs.py (make up/run), test.sh (make test), the fault
suite (tests/faults/backends.py) and the benches (tests/support/ferretdb.py).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from services.common.config import load_config

ROOT = Path(__file__).resolve().parents[2]
ENV = "FERRETDB_BACKEND"
CHOICES = ("sqlite", "postgresql")
POSTGRES_SH = ROOT / "deploy" / "local" / "postgres.sh"
LOCAL_DATABASE = "labelvi"  # the database `make up` / `make run` use in var/postgres


class BackendChoiceError(ValueError):
    pass


def backend(env: dict | None = None) -> str:
    env = os.environ if env is None else env
    choice = (env.get(ENV) or str(load_config(str(ROOT / "deploy" / "config.yaml"))[ENV])).strip().lower()
    if choice not in CHOICES:
        raise BackendChoiceError(f"{ENV}={choice!r}: expected one of {', '.join(CHOICES)}")
    return choice


class Cluster:
    """A deploy/local/postgres.sh cluster under `base` (default var/postgres).

    start() holds the cluster's lock shared before starting it, so that no
    other run's `postgres.sh stop` stops it under us; stop() lets it go and
    stops the cluster only when no other run holds it."""

    def __init__(self, base: Path | None = None):
        self.env = dict(os.environ)
        if base is not None:
            self.env["LABELVI_PG_DIR"] = str(base)
        self._lock = None

    def _sh(self, *args: str) -> str:
        done = subprocess.run(
            [str(POSTGRES_SH), *args], env=self.env, capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"postgres.sh {' '.join(args)}: {done.stderr.strip()[-2000:]}")
        return done.stdout.strip()

    def start(self) -> Cluster:
        if self._lock is None:
            self._lock = open(self._sh("lockfile"), "a")  # noqa: SIM115 (held until stop)
            fcntl.flock(self._lock, fcntl.LOCK_SH)
        self._sh("start")
        return self

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()

    def stop(self) -> None:
        self.release()
        self._sh("stop")

    def createdb(self, name: str) -> str:
        """Creates database `name` when missing; returns FerretDB's URL for it."""
        self._sh("createdb", name)
        return self.url(name)

    def dropdb(self, name: str) -> None:
        self._sh("dropdb", name)

    def url(self, name: str) -> str:
        return self._sh("url", name)

    def postmaster_pid(self) -> int:
        base = Path(self.env.get("LABELVI_PG_DIR") or ROOT / "var" / "postgres")
        return int((base / "data" / "postmaster.pid").read_text().split()[0])


def ferretdb_args(
    *, listen: str, choice: str, data_dir: str | Path = "", postgresql_url: str = ""
) -> list[str]:
    """var/bin/ferretdb-local's arguments for one backend."""
    binary = str(ROOT / "var" / "bin" / "ferretdb-local")
    if choice == "postgresql":
        return [binary, "-listen", listen, "-handler", "postgresql", "-postgresql-url", postgresql_url]
    return [binary, "-listen", listen, "-handler", "sqlite", "-dir", str(data_dir)]


if __name__ == "__main__":
    try:
        print(backend())
    except BackendChoiceError as error:
        print(f"backend: {error}", file=sys.stderr)
        sys.exit(2)
