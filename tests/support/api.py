"""Small helpers for tests that talk to the gateway over HTTP."""

import time


def ok(response, status=200):
    """Assert the status; the JSON body (None when there is none)."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    if response.content and "json" in response.headers.get("Content-Type", ""):
        return response.json()
    return None


def poll(fetch, accept, timeout=45, interval=0.3):
    """Call `fetch` until `accept(value)`; the accepted value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if accept(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting; last value: {value!r}")
        time.sleep(interval)


def wait_until(predicate, timeout=20, interval=0.1):
    """True once `predicate()` is true, False when `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
