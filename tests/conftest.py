"""Root conftest: eventlet first, then the backing-service fixtures every test layer shares.

`make test` starts RabbitMQ (with its management API) and a throw-away FerretDB
and exports AMQP_URI / MONGODB_URI; these fixtures fail with a clear message
when a backing service does not answer.

Fixtures (see also nameko's pytest plugin: rabbit_config, amqp_uri (per-test
vhost), container_factory, runner_factory, web_session...):
  amqp_base_uri   session  broker URI of the default vhost ("/"), checked reachable
  rabbit_api_uri  session  http://guest:guest@127.0.0.1:15672 (checked)
  mongodb_uri     session  MongoDB/FerretDB URI, checked reachable
  mongo_client    session  pymongo.MongoClient on mongodb_uri
  db_prefix       function unique MONGODB_DATABASE_PREFIX ("t_<hex>_"); its databases are dropped after
  smtp_capture    session  an SMTP capture subprocess on a free port: .url, .host, .port, .mail (Mailbox)
"""

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # "Eventlet is deprecated": known, nameko needs it
    import eventlet

eventlet.monkey_patch()  # nameko >= 2.14's pytest plugin no longer does it; must come first

import os  # noqa: E402
import secrets  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.common.contracts import SERVICES  # noqa: E402
from tests.support.mail import Mailbox  # noqa: E402
from tests.support.net import free_port, tcp_ready, wait_tcp  # noqa: E402

# Services started by the tests (containers, processes) accept their test
# secrets: a developer's machine (services/common/startup.py).
os.environ.setdefault("LABEL_LOCAL_MODE", "1")

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_MONGODB_URI = "mongodb://127.0.0.1:27017/"
HOW = (
    "Run the tests with `make test` (it starts RabbitMQ and a FerretDB), or start them "
    "yourself (`deploy/local/rabbitmq.sh start`, `make up`) and set AMQP_URI / MONGODB_URI."
)


def pytest_configure(config):
    # nameko's rabbit_config/amqp_uri fixtures read --amqp-uri (default localhost:5672):
    # follow AMQP_URI when it is set and the option was not given.
    uri = os.environ.get("AMQP_URI")
    if uri and config.getoption("RABBIT_AMQP_URI", None) == "pyamqp://guest:guest@localhost:5672/":
        config.option.RABBIT_AMQP_URI = uri


@pytest.fixture(scope="session")
def amqp_base_uri():
    uri = os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)
    parts = urlsplit(uri)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    if not tcp_ready(host, port, timeout=3):
        pytest.fail(f"RabbitMQ is not reachable at {host}:{port} (AMQP_URI={uri}). {HOW}", pytrace=False)
    return uri


@pytest.fixture(scope="session")
def rabbit_api_uri(request, amqp_base_uri):
    import requests

    api = request.config.getoption("RABBIT_API_URI", "http://guest:guest@localhost:15672")
    try:
        requests.get(api.rstrip("/") + "/api/overview", timeout=5).raise_for_status()
    except Exception as exc:
        pytest.fail(
            f"RabbitMQ management API not reachable at {api} ({exc}); "
            f"enable it: rabbitmq-plugins enable rabbitmq_management. {HOW}",
            pytrace=False,
        )
    return api


@pytest.fixture(scope="session")
def mongodb_uri():
    uri = os.environ.get("MONGODB_URI", DEFAULT_MONGODB_URI)
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
    try:
        client.admin.command("ping")
    except Exception as exc:
        pytest.fail(
            f"MongoDB/FerretDB is not reachable at {uri} ({exc.__class__.__name__}). {HOW}", pytrace=False
        )
    finally:
        client.close()
    return uri


@pytest.fixture(scope="session")
def mongo_client(mongodb_uri):
    import pymongo

    client = pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    yield client
    client.close()


@pytest.fixture
def db_prefix(mongo_client):
    prefix = f"t_{secrets.token_hex(4)}_"
    yield prefix
    # By name: FerretDB's listDatabases opens every database (slow with hundreds).
    for service in SERVICES:
        mongo_client.drop_database(prefix + service)


class SmtpCapture:
    def __init__(self, directory: Path):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.url = f"smtp://{self.host}:{self.port}"
        self.mail = Mailbox(directory)
        self.proc = None

    def start(self):
        log = open(self.mail.path.parent / "smtp.log", "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "deploy.local.smtp_capture",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--dir",
                str(self.mail.path),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_tcp(self.host, self.port, timeout=15, what="SMTP capture")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def smtp_capture(tmp_path_factory):
    directory = tmp_path_factory.mktemp("smtp") / "mail"
    directory.mkdir()
    capture = SmtpCapture(directory)
    capture.start()
    yield capture
    capture.stop()
