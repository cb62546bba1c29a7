"""The fault suite's own RabbitMQ node and FerretDB process, under var/faults/.

RabbitMQ is machine-wide and shared with other test runs (deploy/local/rabbitmq.sh):
the suite stops and starts brokers and databases on purpose, so it never touches
the shared ones. Its node has its own name, ports (AMQP, distribution,
management), data and log directories and Erlang cookie; its FerretDB its own
port and data directory or, with FERRETDB_BACKEND=postgresql, its own database
`faults` in its own PostgreSQL cluster (var/faults/postgres/), stopped with it
when a scenario stops the database (tests/support/ferretdb.py). Only epmd (the
Erlang name server) is shared, which the suite never stops.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

import requests

from tests.support.ferretdb import OwnFerretDB
from tests.support.net import free_port, tcp_ready

ROOT = Path(__file__).resolve().parents[2]
RABBIT_SBIN = sorted(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/sbin"))


class BackendError(AssertionError):
    pass


class OwnRabbit:
    """One RabbitMQ node of our own (rabbitmq-server run directly, no systemd)."""

    def __init__(self, base: Path):
        if not RABBIT_SBIN:
            raise BackendError("rabbitmq-server is not installed (make setup)")
        self.sbin = RABBIT_SBIN[-1]
        self.dir = base / "rabbitmq"
        shutil.rmtree(self.dir, ignore_errors=True)
        for sub in ("home", "mnesia", "log"):
            (self.dir / sub).mkdir(parents=True)
        (self.dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        self.node = f"faults_{secrets.token_hex(3)}@localhost"
        self.port, self.dist_port, self.mgmt_port = free_port(), free_port(), free_port()
        self.amqp_uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.api = f"http://127.0.0.1:{self.mgmt_port}"
        self.env = dict(
            os.environ,
            HOME=str(self.dir / "home"),  # its own Erlang cookie
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.dir / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.dir / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.dir / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(self.dir / "no-config"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.dir / "no-advanced-config"),
            RABBITMQ_PID_FILE=str(self.dir / "pid"),
            RABBITMQ_SERVER_START_ARGS=f"-rabbitmq_management tcp_config [{{port,{self.mgmt_port}}}]",
        )
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        log = open(self.dir / "server.out", "ab")
        self.proc = subprocess.Popen(
            [str(self.sbin / "rabbitmq-server")],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BackendError(f"own RabbitMQ exited: {(self.dir / 'server.out').read_text()[-2000:]}")
            if tcp_ready("127.0.0.1", self.port) and self._api_up():
                return
            if time.monotonic() > deadline:
                raise BackendError("own RabbitMQ did not start in time")
            time.sleep(0.3)

    def _api_up(self) -> bool:
        try:
            return requests.get(f"{self.api}/api/overview", auth=("guest", "guest"), timeout=3).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """A clean stop of this node only (rabbitmqctl -n <our node>)."""
        if self.proc is None:
            return
        subprocess.run(
            [str(self.sbin / "rabbitmqctl"), "-n", self.node, "stop"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None
        deadline = time.monotonic() + 10
        while tcp_ready("127.0.0.1", self.port, timeout=0.2) and time.monotonic() < deadline:
            time.sleep(0.1)


class Backends:
    def __init__(self, base: Path | None = None):
        self.base = base or ROOT / "var" / "faults"
        self.rabbit = OwnRabbit(self.base)
        shutil.rmtree(self.base / "ferretdb", ignore_errors=True)
        self.ferret = OwnFerretDB(self.base / "ferretdb", pg_base=self.base / "postgres", database="faults")

    def start(self) -> Backends:
        try:
            self.ferret.start()
            self.rabbit.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.rabbit.stop()
        self.ferret.stop_database()  # the data stay for inspection until the next run
