"""A FerretDB of a bench's or a suite's own (var/bin/ferretdb-local on a free
port), on the storage FERRETDB_BACKEND chooses (deploy/local/backend.py): SQLite
files in a directory of its own, or a database of its own in a PostgreSQL
cluster (var/postgres/, or the suite's own cluster under `pg_base`)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from deploy.local import backend
from tests.support.net import free_port, tcp_ready

ROOT = Path(__file__).resolve().parents[2]


class FerretError(AssertionError):
    pass


class OwnFerretDB:
    """start()/stop() the FerretDB process (the data stay); stop_database()/
    start_database() also stop and start the PostgreSQL cluster under it, if
    any; close() stops everything and deletes the data."""

    def __init__(
        self,
        base: Path,
        *,
        pg_base: Path | None = None,
        database: str = "",
        choice: str | None = None,
        extra_args: tuple[str, ...] = (),
    ):
        """`database`: a fixed name, emptied first (else a random one); `extra_args`
        for ferretdb-local (e.g. -id-index=false, to measure)."""
        self.extra_args = list(extra_args)
        self.binary = ROOT / "var" / "bin" / "ferretdb-local"
        if not self.binary.exists():
            raise FerretError("var/bin/ferretdb-local is missing (make setup)")
        self.backend = choice or backend.backend()
        self.dir = Path(base)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.dir / "ferretdb.log"
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/"
        self.proc: subprocess.Popen | None = None
        self.cluster: backend.Cluster | None = None
        self.database = ""
        self.pg_url = ""
        if self.backend == "postgresql":
            self.cluster = backend.Cluster(pg_base).start()
            self.database = database or f"own_{secrets.token_hex(4)}"
            if database:
                self.cluster.dropdb(database)
            self.pg_url = self.cluster.createdb(self.database)
        else:
            (self.dir / "data").mkdir(exist_ok=True)

    def describe(self) -> str:
        extra = f", {' '.join(self.extra_args)}" if self.extra_args else ""
        if self.cluster is not None:
            return f"FerretDB on PostgreSQL (database {self.database}{extra})"
        return f"FerretDB on SQLite{extra}"

    def start(self, timeout: float = 30) -> OwnFerretDB:
        args = (
            backend.ferretdb_args(
                listen=f"127.0.0.1:{self.port}",
                choice=self.backend,
                data_dir=self.dir / "data",
                postgresql_url=self.pg_url,
            )
            + self.extra_args
        )
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not tcp_ready("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise FerretError(f"own FerretDB did not start: {self.log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def stop_database(self) -> None:
        """The database gone: FerretDB and, with PostgreSQL, the cluster too
        (stopped unless another run of this checkout holds it)."""
        self.stop()
        if self.cluster is not None:
            self.cluster.stop()

    def start_database(self) -> None:
        if self.cluster is not None:
            self.cluster.start()
        self.start()

    def close(self) -> None:
        self.stop()
        if self.cluster is not None:
            try:
                self.cluster.dropdb(self.database)
            finally:
                self.cluster.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def private_ferretdb(prefix: str = "bench-ferretdb-") -> tuple[str, OwnFerretDB | None]:
    """(uri, own): MONGODB_URI when set (own None), else a throw-away FerretDB
    of our own, as `make test` starts: figures free of other databases and users.
    own.close() stops it and deletes its data. BENCH_FERRETDB_ARGS: extra
    ferretdb-local arguments, to measure (e.g. -id-index=false)."""
    if os.environ.get("MONGODB_URI") or not (ROOT / "var" / "bin" / "ferretdb-local").exists():
        return os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017/"), None
    (ROOT / "var" / "tmp").mkdir(parents=True, exist_ok=True)
    extra = tuple(os.environ.get("BENCH_FERRETDB_ARGS", "").split())
    own = OwnFerretDB(Path(tempfile.mkdtemp(prefix=prefix, dir=ROOT / "var" / "tmp")), extra_args=extra)
    try:
        own.start()
    except BaseException:
        own.close()
        raise
    return own.uri, own
