"""Every service as a real process, in an isolated environment, for end-to-end tests.

    stack = Stack(amqp_uri="amqp://guest:guest@127.0.0.1:5672/", mongodb_uri="mongodb://127.0.0.1:27017/")
    stack.start_all()          # vhost, SMTP capture, topology, the five services; waits for /health
    stack.http("GET", "/health").json()
    stack.stop_all()           # stops everything, deletes the vhost and the e2e databases

Isolation: a fresh RabbitMQ vhost, MONGODB_DATABASE_PREFIX=e2e_<random>_, a free
gateway port, its own SMTP capture on a free port writing to a run directory
under var/e2e/<run>/ (logs are kept there too; the 5 newest runs are kept).
The environment of the test process (e.g. INBOX_*, OUTBOX_*, LOG_LEVEL) is
passed through to the services.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from tests.support.mail import Mailbox
from tests.support.net import free_port, tcp_ready

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from deploy.local import procs  # noqa: E402

SERVICE_NAMES = ("submissions", "jury", "awards", "notifications", "gateway")
BACKEND_NAMES = ("submissions", "jury", "awards", "notifications")
KEEP_RUNS = 5


def _venv_bin(name: str) -> str:
    candidate = ROOT / ".venv" / "bin" / name
    if candidate.exists():
        return str(candidate)
    return str(Path(sys.executable).parent / name)


class StackError(AssertionError):
    pass


class Stack:
    def __init__(
        self,
        amqp_uri: str,
        mongodb_uri: str,
        *,
        rabbit_api: str = "http://127.0.0.1:15672",
        extra_env: dict | None = None,
        start_timeout: float = 60,
        smtp_args: tuple[str, ...] = (),
    ):
        self.run_id = secrets.token_hex(4)
        self.vhost = f"e2e_{self.run_id}"
        parts = urlsplit(amqp_uri)
        self.amqp_uri = urlunsplit((parts.scheme, parts.netloc, "/" + quote(self.vhost, safe=""), "", ""))
        self._amqp_user = parts.username or "guest"
        self._amqp_password = parts.password or "guest"
        self._rabbit_api = rabbit_api.rstrip("/")
        self.mongodb_uri = mongodb_uri
        self.db_prefix = f"e2e_{self.run_id}_"
        self.port = free_port()
        self.smtp_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.base_url}/api/v1"
        self.admin_token = f"e2e-admin-{secrets.token_hex(8)}"
        self.start_timeout = start_timeout
        self.smtp_args = tuple(smtp_args)  # more options of deploy/local/smtp_capture.py

        stamp = time.strftime("%Y%m%d-%H%M%S")
        runs = ROOT / "var" / "e2e"
        runs.mkdir(parents=True, exist_ok=True)
        for old in sorted(runs.iterdir())[:-KEEP_RUNS]:
            shutil.rmtree(old, ignore_errors=True)
        self.run_dir = runs / f"{stamp}-{self.run_id}"
        self.log_dir = self.run_dir / "log"
        self.mail_dir = self.run_dir / "mail"
        self.log_dir.mkdir(parents=True)
        self.mail_dir.mkdir(parents=True)
        self.mail = Mailbox(self.mail_dir)

        env = dict(os.environ)
        env.update(
            {
                "AMQP_URI": self.amqp_uri,
                "MONGODB_URI": self.mongodb_uri,
                "MONGODB_DATABASE_PREFIX": self.db_prefix,
                "SMTP_URL": f"smtp://127.0.0.1:{self.smtp_port}",
                "GATEWAY_PORT": str(self.port),
                "PUBLIC_BASE_URL": self.base_url,
                "LABEL_ADMIN_TOKEN": self.admin_token,
                "LABEL_SECRET_KEY": secrets.token_hex(16),
                "LABEL_LOCAL_MODE": "1",  # test secrets accepted, gateway on 127.0.0.1
                # Every test client is 127.0.0.1: limits high enough for a whole run
                # (tests/e2e/test_rate_limits.py restarts the gateway with small ones).
                "RATE_LIMIT_PER_CLIENT": "100000",
                "RATE_LIMIT_PER_RECIPIENT": "1000",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra_env or {})
        self.env = env

        self._services = procs.services(env)
        self._procs: dict[str, subprocess.Popen] = {}
        self.killed: list[tuple[str, int]] = []  # (service, pid) of each kill()
        self._smtp: subprocess.Popen | None = None
        self._mongo_client = None
        self._vhost_created = False

    # ------------------------------------------------------------------ lifecycle
    def start_all(self) -> Stack:
        try:
            self._create_vhost()
            self.smtp_start()
            self._run_topology()
            for name in self._services:
                if name != "gateway":
                    self._spawn(name)
            if "gateway" in self._services:
                self._spawn("gateway")
            deadline = time.monotonic() + self.start_timeout
            for name in self._services:
                self._wait_log_started(name, 0, deadline)
            self._wait_health(
                lambda body, status: status == 200 and body.get("status") == "ok",
                deadline,
                "every service ok",
            )
        except BaseException:
            self.stop_all()
            raise
        return self

    def stop_all(self, drop_databases: bool = True) -> None:
        """`drop_databases=False` when the MongoDB server is thrown away anyway."""
        procs_ = [self._procs.pop(name) for name in list(self._procs)]
        for proc in procs_:  # SIGTERM all first: nameko takes a few seconds each to stop
            if proc.poll() is None:
                self._signal(proc, signal.SIGTERM)
        for proc in procs_:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal(proc, signal.SIGKILL)
                proc.wait(timeout=5)
        self.smtp_stop()
        if self._mongo_client is not None and drop_databases:
            try:
                # By name: FerretDB's listDatabases opens every database and
                # takes minutes once a test run has made a few hundred.
                for service in BACKEND_NAMES:
                    self._mongo_client.drop_database(self.db_prefix + service)
            except Exception:
                pass
        if self._mongo_client is not None:
            self._mongo_client.close()
            self._mongo_client = None
        self._delete_vhost()

    # ------------------------------------------------------------------ services
    def start(self, service: str, env: dict | None = None) -> None:
        """Start a service (no-op when it runs) and wait until it answers.
        `env` adds to (or overrides) the stack's environment for this process only."""
        self._check(service)
        if self.alive(service):
            return
        offset = self._log_size(service)
        self._spawn(service, env)
        deadline = time.monotonic() + self.start_timeout
        self._wait_log_started(service, offset, deadline)
        self._wait_ready(service, deadline)

    def kill(self, service: str) -> None:
        """SIGKILL the service's process (a crash: no graceful shutdown)."""
        self._check(service)
        proc = self._procs.pop(service, None)
        if proc is None:
            return
        self._signal(proc, signal.SIGKILL)
        proc.wait(timeout=10)
        self.killed.append((service, proc.pid))

    def restart(self, service: str, env: dict | None = None) -> None:
        """SIGTERM (graceful), then start (with `env` added) and wait until it answers."""
        self._check(service)
        self._terminate(service)
        self.start(service, env)

    def alive(self, service: str) -> bool:
        proc = self._procs.get(service)
        return proc is not None and proc.poll() is None

    def pid(self, service: str) -> int | None:
        """The process id of a running service (None when it does not run)."""
        proc = self._procs.get(service)
        return proc.pid if proc is not None and proc.poll() is None else None

    def smtp_pid(self) -> int | None:
        return self._smtp.pid if self._smtp is not None and self._smtp.poll() is None else None

    def log(self, service: str) -> str:
        """Text of a process log: a service, "smtp" or "topology"."""
        path = self.log_dir / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tails(self, lines: int = 30) -> str:
        out = []
        for name in (*SERVICE_NAMES, "topology", "smtp"):
            text = self.log(name)
            if text:
                out.append(
                    f"----- {name} ({self.log_dir / (name + '.log')})\n"
                    + "\n".join(text.splitlines()[-lines:])
                )
        return "\n".join(out)

    # ------------------------------------------------------------------ SMTP capture
    def smtp_start(self) -> None:
        if self._smtp is not None and self._smtp.poll() is None:
            return
        logf = open(self.log_dir / "smtp.log", "ab")
        self._smtp = subprocess.Popen(
            [
                _venv_bin("python"),
                "-m",
                "deploy.local.smtp_capture",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.smtp_port),
                "--dir",
                str(self.mail_dir),
                # A bounce to resend from the console (tests/e2e/test_console.py).
                "--refuse-once",
                r"^rebond@\S+ Label \d{4} :",
                *self.smtp_args,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        logf.close()
        deadline = time.monotonic() + 15
        while not tcp_ready("127.0.0.1", self.smtp_port):
            if self._smtp.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"SMTP capture did not start:\n{self.log('smtp')}")
            time.sleep(0.05)

    def smtp_stop(self) -> None:
        proc, self._smtp = self._smtp, None
        if proc is None or proc.poll() is not None:
            return
        self._signal(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal(proc, signal.SIGKILL)
            proc.wait(timeout=5)
        deadline = time.monotonic() + 5
        while tcp_ready("127.0.0.1", self.smtp_port, timeout=0.2) and time.monotonic() < deadline:
            time.sleep(0.05)

    # ------------------------------------------------------------------ HTTP and MongoDB
    def http(self, method: str, path: str, token: str | None = None, json=None, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kw.setdefault("timeout", 30)
        url = path if path.startswith("http") else self.base_url + path
        return requests.request(method, url, headers=headers, json=json, **kw)

    def mongo(self, service: str):
        """pymongo Database of a service (prefix + name): for assertions only."""
        if self._mongo_client is None:
            import pymongo

            self._mongo_client = pymongo.MongoClient(self.mongodb_uri, serverSelectionTimeoutMS=5000)
        return self._mongo_client[self.db_prefix + service]

    # ------------------------------------------------------------------ internals
    def _check(self, service: str) -> None:
        if service not in self._services:
            raise ValueError(f"unknown service {service!r}; one of {sorted(self._services)}")

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)  # the process and anything it spawned
        except ProcessLookupError:
            pass

    def _log_size(self, service: str) -> int:
        path = self.log_dir / f"{service}.log"
        return path.stat().st_size if path.exists() else 0

    def _spawn(self, service: str, env: dict | None = None) -> None:
        logf = open(self.log_dir / f"{service}.log", "ab")
        logf.write(f"===== {time.strftime('%H:%M:%S')} stack: starting {service}\n".encode())
        logf.flush()
        self._procs[service] = subprocess.Popen(
            [_venv_bin("nameko"), "run", "--config", procs.CONFIG, self._services[service]],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=logf,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        logf.close()

    def _terminate(self, service: str) -> None:
        proc = self._procs.pop(service, None)
        if proc is None or proc.poll() is not None:
            return
        self._signal(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._signal(proc, signal.SIGKILL)
            proc.wait(timeout=5)

    def _fail(self, message: str) -> None:
        raise StackError(f"{message}\n{self.log_tails()}")

    def _wait_log_started(self, service: str, offset: int, deadline: float) -> None:
        path = self.log_dir / f"{service}.log"
        while True:
            proc = self._procs.get(service)
            if proc is None or proc.poll() is not None:
                self._fail(f"{service} exited (code {proc and proc.returncode}) while starting")
            with open(path, "rb") as fh:
                fh.seek(offset)
                if b"starting services" in fh.read().lower():
                    return
            if time.monotonic() > deadline:
                self._fail(f"{service} did not log 'starting services' in time")
            time.sleep(0.1)

    def _health(self):
        try:
            r = requests.get(self.base_url + "/health", timeout=10)
        except requests.RequestException:
            return None, None
        try:
            body = r.json()
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}, r.status_code

    def _wait_health(self, ok, deadline: float, what: str) -> None:
        body = status = None
        while True:
            body, status = self._health()
            if body is not None and ok(body, status):
                return
            for name in self._services:
                if name in self._procs and not self.alive(name):
                    self._fail(f"{name} exited (code {self._procs[name].returncode})")
            if time.monotonic() > deadline:
                self._fail(f"/health did not report {what} in time (last: {status} {body})")
            time.sleep(0.2)

    def _wait_ready(self, service: str, deadline: float) -> None:
        if service == "gateway":
            # answers, and every backend service that runs is ok
            def ok(body, status):
                states = body.get("services")
                if not isinstance(states, dict):
                    return False
                return all(states.get(n) == "ok" for n in BACKEND_NAMES if self.alive(n) and n in states)

            self._wait_health(ok, deadline, "the running services ok")
        elif self.alive("gateway"):
            self._wait_health(
                lambda body, status: (body.get("services") or {}).get(service) == "ok",
                deadline,
                f"{service} ok",
            )

    # ------------------------------------------------------------------ RabbitMQ vhost
    def _rabbit(self, method: str, path: str, **kw) -> requests.Response:
        return requests.request(
            method,
            f"{self._rabbit_api}/api{path}",
            auth=(self._amqp_user, self._amqp_password),
            timeout=15,
            **kw,
        )

    def _create_vhost(self) -> None:
        v = quote(self.vhost, safe="")
        r = self._rabbit("PUT", f"/vhosts/{v}")
        if r.status_code not in (201, 204):
            raise StackError(f"cannot create vhost {self.vhost}: {r.status_code} {r.text}")
        self._vhost_created = True
        r = self._rabbit(
            "PUT",
            f"/permissions/{v}/{quote(self._amqp_user, safe='')}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
        )
        if r.status_code not in (201, 204):
            raise StackError(f"cannot set permissions on {self.vhost}: {r.status_code} {r.text}")

    def _delete_vhost(self) -> None:
        if self._vhost_created:
            try:
                self._rabbit("DELETE", f"/vhosts/{quote(self.vhost, safe='')}")
            except requests.RequestException:
                pass
            self._vhost_created = False

    def _run_topology(self) -> None:
        out = subprocess.run(
            [_venv_bin("python"), "-m", procs.topology_module(self.env), "--config", procs.CONFIG],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
        (self.log_dir / "topology.log").write_bytes(out.stdout)
        if out.returncode != 0:
            raise StackError(
                f"topology failed (exit {out.returncode}):\n{out.stdout.decode(errors='replace')}"
            )
