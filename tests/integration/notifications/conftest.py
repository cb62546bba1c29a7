"""Fixtures of the notifications integration tests: a real SMTP server process
(stoppable, on a fixed free port) and the service's configuration."""

import pytest
from nameko.standalone.events import event_dispatcher

from services.common import topology
from services.common.mongo import make_client
from tests.integration.notifications.helpers import SmtpServer
from tests.support.config import service_config


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path / "mail")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def config(rabbit_config, mongodb_uri, db_prefix, smtp):
    topology.declare_all(rabbit_config["AMQP_URI"])
    return service_config(
        rabbit_config,
        MONGODB_URI=mongodb_uri,
        MONGODB_DATABASE_PREFIX=db_prefix,
        SMTP_URL=smtp.url,
        SMTP_FROM="Villes Internet <label@villes-internet.net>",
        PUBLIC_BASE_URL="https://label.example.fr",
        ORGANISER_EMAILS="orga@villes-internet.net",
        OUTBOX_SWEEP_SECONDS=0.5,
        INBOX_MAX_ATTEMPTS=3,
        INBOX_BACKOFF_SECONDS=0.05,
        SMTP_BACKOFF_SECONDS=0.5,
        SMTP_BACKOFF_MAX_SECONDS=4,
        SMTP_MAX_ATTEMPTS=40,
        SMTP_TIMEOUT_SECONDS=5,
        SENDING_LEASE_SECONDS=3,
    )


@pytest.fixture
def notif_db(config):
    client = make_client(config["MONGODB_URI"])
    yield client[f"{config['MONGODB_DATABASE_PREFIX']}notifications"]  # dropped by db_prefix
    client.close()


@pytest.fixture
def dispatch(config):
    """dispatch(source, event_name, payload): publish as the producing service would."""
    dispatchers = {}

    def send(source, name, payload):
        if source not in dispatchers:
            dispatchers[source] = event_dispatcher(config)
        dispatchers[source](source, name, payload)

    return send
