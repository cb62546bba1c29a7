"""Slow clients cannot hold the gateway's workers (services/gateway/server.py):
with more half-open connections than workers (slow headers, trickled bodies),
a normal request is still answered at once; a trickled body gets 408 once its
time is up, a silent connection is closed, and past the connection limit new
connections are refused while the open ones are served."""

import socket
import time

import pytest

pytestmark = pytest.mark.e2e

LIMITS = {"GATEWAY_BODY_SECONDS": "3", "GATEWAY_SOCKET_TIMEOUT_SECONDS": "2", "GATEWAY_MAX_CONNECTIONS": "40"}
WORKERS = 10  # deploy/config.yaml's max_workers


@pytest.fixture
def guarded(stack):
    stack.restart("gateway", LIMITS)
    try:
        yield stack
    finally:
        stack.restart("gateway")


@pytest.fixture
def capped(stack):
    """The connection limit alone: a silent connection is kept 30 s, so that a
    loaded machine's slow start of the test does not free places before it counts."""
    stack.restart("gateway", dict(LIMITS, GATEWAY_SOCKET_TIMEOUT_SECONDS="30"))
    try:
        yield stack
    finally:
        stack.restart("gateway")


def connect(stack):
    return socket.create_connection(("127.0.0.1", stack.port), timeout=10)


def half_open(stack, kind):
    sock = connect(stack)
    if kind == "headers":  # a request line and part of the headers, then silence
        sock.sendall(b"GET /api/v1/campaigns HTTP/1.1\r\nHost: x\r\n")
    else:  # whole headers, a body announced and never sent whole
        sock.sendall(
            b"POST /api/v1/collectivites HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
    return sock


def timed_get(stack, path="/api/v1/campaigns"):
    start = time.monotonic()
    response = stack.http("GET", path, timeout=10)
    return response.status_code, time.monotonic() - start


def test_slow_clients_do_not_hold_the_workers(guarded):
    stack = guarded
    held = [half_open(stack, "body") for _ in range(WORKERS + 5)]
    held += [half_open(stack, "headers") for _ in range(5)]
    try:
        time.sleep(0.5)
        status, seconds = timed_get(stack)
        assert status == 200 and seconds < 1.5, (status, seconds)

        # The announced bodies never arrive: 408 once their time is up, then closed.
        for sock in held[: WORKERS + 5]:
            sock.settimeout(8)
            assert sock.recv(4096).split(b"\r\n", 1)[0] == b"HTTP/1.1 408 Request Timeout"
        # The silent half-headers are closed after GATEWAY_SOCKET_TIMEOUT_SECONDS.
        for sock in held[WORKERS + 5 :]:
            sock.settimeout(6)
            assert sock.recv(4096) == b""  # closed by the server (eventlet sends nothing on a timeout)
    finally:
        for sock in held:
            sock.close()


def test_past_the_connection_limit_new_connections_are_closed(capped):
    stack = capped
    held = [connect(stack) for _ in range(40)]
    try:
        time.sleep(0.3)
        extra = connect(stack)
        extra.settimeout(3)
        extra.sendall(b"GET /api/v1/campaigns HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            assert extra.recv(4096) == b""
        except ConnectionResetError:
            pass
        extra.close()
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.3)
    status, _ = timed_get(stack)
    assert status == 200
