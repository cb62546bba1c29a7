"""pymongo (< 4.16) inside nameko workers, under eventlet's monkey-patching,
against the real FerretDB server: concurrent workers share one pool, a server
restart is survived, and an unreachable server fails a call in seconds
instead of hanging the worker."""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import eventlet
import pytest
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from pymongo.errors import PyMongoError

from services.common.mongo import MongoDatabase
from tests.support.config import service_config

ROOT = Path(__file__).resolve().parents[3]
FERRETDB = ROOT / "var" / "bin" / "ferretdb-local"


class Counter:
    name = "counter"
    db = MongoDatabase("counter")

    @rpc
    def add(self, key):
        self.db["hits"].insert_one({"_id": key})
        eventlet.sleep(0.01)  # let other green threads interleave mid-request
        return self.db["hits"].count_documents({})

    @rpc
    def ping(self):
        try:
            self.db.command("ping")
            return "ok"
        except PyMongoError as exc:
            return type(exc).__name__


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FerretProcess:
    """A private FerretDB server we may stop and start at will."""

    def __init__(self):
        if not FERRETDB.exists():
            pytest.fail(f"{FERRETDB} is missing: run `make setup` (deploy/local/build-mongo.sh)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="ferret-it-")
        self.process = None

    @property
    def uri(self):
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self):
        self.process = subprocess.Popen(
            [str(FERRETDB), "-listen", f"127.0.0.1:{self.port}", "-dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("FerretDB did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(10)

    def cleanup(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def ferret():
    server = FerretProcess()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def counter(container_factory, rabbit_config, ferret, db_prefix):
    config = service_config(
        rabbit_config,
        MONGODB_URI=ferret.uri,
        MONGODB_DATABASE_PREFIX=db_prefix,
        max_workers=20,
    )
    container = container_factory(Counter, config)
    container.start()
    return config


def test_concurrent_workers_share_the_pool(counter):
    with ServiceRpcProxy("counter", counter) as proxy:
        replies = [proxy.add.call_async(f"k{n}") for n in range(100)]
        counts = [reply.result() for reply in replies]
    assert sorted(set(counts))[-1] == 100  # every insert landed, none lost or doubled
    assert len(counts) == 100


def test_a_server_restart_is_survived_and_an_outage_fails_fast(counter, ferret):
    with ServiceRpcProxy("counter", counter) as proxy:
        assert proxy.add("before") == 1
        ferret.stop()
        started = time.monotonic()
        # AutoReconnect when the pooled socket breaks, ServerSelectionTimeoutError after.
        assert proxy.ping() in ("AutoReconnect", "ServerSelectionTimeoutError")
        assert proxy.ping() == "ServerSelectionTimeoutError"
        assert time.monotonic() - started < 20  # serverSelectionTimeoutMS=5000 per call, not a hang
        ferret.start()
        deadline = time.monotonic() + 30
        while proxy.ping() != "ok":
            assert time.monotonic() < deadline, "pymongo did not reconnect"
        assert proxy.add("after") == 2  # same data dir: the first document survived
