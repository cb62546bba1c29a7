"""Security settings end to end: a service process refuses to start with a
default secret outside local mode; the local-mode gateway listens on 127.0.0.1
only; the API refuses oversized and deeply nested bodies with a 4xx; every answer
carries the security headers."""

import os
import socket
import subprocess
import time

import pytest

from tests.support.net import free_port, tcp_ready
from tests.support.stack import ROOT, _venv_bin

pytestmark = pytest.mark.e2e

STRONG_SECRET = "s3cr3t-" + "x" * 40


def run_gateway(**env_changes):
    """`nameko run` the gateway outside local mode; (exit code, log, port) once it exits (60 s at most)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LABEL_LOCAL_MODE", "LABEL_ADMIN_TOKEN")}
    port = free_port()
    env.update(GATEWAY_PORT=str(port), LABEL_SECRET_KEY=STRONG_SECRET, PYTHONUNBUFFERED="1")
    env.update(env_changes)
    proc = subprocess.Popen(
        [_venv_bin("nameko"), "run", "--config", "deploy/config.yaml", "services.gateway.app:GatewayService"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    listened = False
    while proc.poll() is None and time.monotonic() < deadline:
        listened = listened or tcp_ready("127.0.0.1", port, timeout=0.2)
        time.sleep(0.2)
    if proc.poll() is None:
        proc.kill()
    out = proc.communicate(timeout=10)[0].decode(errors="replace")
    return proc.returncode, out, listened


@pytest.mark.parametrize(
    "changes, variable",
    [
        ({}, "LABEL_ADMIN_TOKEN"),  # left at deploy/config.yaml's admin-dev-token
        ({"LABEL_ADMIN_TOKEN": "change-me-admin-token"}, "LABEL_ADMIN_TOKEN"),  # docker-compose's
        ({"LABEL_ADMIN_TOKEN": STRONG_SECRET, "LABEL_SECRET_KEY": "short-secret"}, "LABEL_SECRET_KEY"),
    ],
)
def test_a_service_with_a_default_or_short_secret_exits_non_zero(changes, variable):
    code, log, listened = run_gateway(**changes)
    assert code not in (0, None), log
    assert not listened
    refusals = [line for line in log.splitlines() if "CRITICAL" in line and "démarrage refusé" in line]
    assert refusals and all(variable in line for line in refusals), log


def test_the_local_mode_gateway_listens_on_loopback_only(stack):
    assert stack.env["LABEL_LOCAL_MODE"] == "1"
    assert tcp_ready("127.0.0.1", stack.port)
    assert not tcp_ready("127.0.0.2", stack.port)  # would answer if bound to 0.0.0.0


def test_an_oversized_body_is_413_before_it_is_sent(stack):
    """Content-Length of 50 MB, no body sent: the answer comes at once."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/collectivites HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
        )
        head = sock.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413"), head
    assert "payload_too_large" in head


def test_deeply_nested_json_is_400_not_a_500(stack):
    depth = 50_000
    log_before = len(stack.log("gateway"))
    body = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
    response = stack.http(
        "POST", "/api/v1/collectivites", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "malformed_json"
    assert "Traceback" not in stack.log("gateway")[log_before:]


@pytest.mark.parametrize(
    "method, path, status",
    [
        ("GET", "/health", 200),  # a plain nameko route, outside @api and @page
        ("GET", "/nulle-part", 404),  # no route: werkzeug's own answer
        ("GET", "/api/v1/campaigns/%0A2021/palmares", 404),  # no route either, made the API's JSON error
        ("POST", "/health", 405),
        ("GET", "/static/site.css", 200),
    ],
)
def test_every_answer_carries_the_security_headers(stack, method, path, status):
    response = stack.http(method, path)
    assert response.status_code == status
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "not_found"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    # a route's own caching stays: the stylesheet may be kept an hour
    assert response.headers["Cache-Control"] == ("public, max-age=3600" if "static" in path else "no-store")
