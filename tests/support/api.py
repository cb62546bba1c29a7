"""Small helpers for tests that talk to the gateway over HTTP."""

import time


def ok(response, status=200):
    """Assert the status; the JSON body (None when there is none)."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    if response.content and "json" in response.headers.get("Content-Type", ""):
        return response.json()
    return None


def wait_until(predicate, timeout=30, interval=0.1, what="condition"):
    """The first truthy `predicate()`, polled every `interval`; AssertionError
    after `timeout` seconds. The one waiting helper of the tests."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {value!r}")
        time.sleep(interval)


def poll(fetch, accept, timeout=45, interval=0.3):
    """Call `fetch` until `accept(value)`; the accepted value, or AssertionError."""
    found = []

    def accepted():
        value = fetch()
        found[:] = [value]
        return accept(value)

    wait_until(accepted, timeout=timeout, interval=interval, what="an accepted value")
    return found[0]


def open_campaign(stack, year, place, *, closes_in=None, ceremony_in=None, **extra):
    """Create campaign `year` as the organiser, open since an hour ago, closing
    in `closes_in` (2 h), ceremony in `ceremony_in` (30 days); its detail."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    body = {
        "year": year,
        "title": f"Label {year}",
        "submissions_open_at": (now - timedelta(hours=1)).isoformat(),
        "submissions_close_at": (now + (closes_in or timedelta(hours=2))).isoformat(),
        "ceremony_at": (now + (ceremony_in or timedelta(days=30))).isoformat(),
        "ceremony_place": place,
        **extra,
    }
    ok(stack.http("POST", "/api/v1/campaigns", token=stack.admin_token, json=body), 201)
    return ok(stack.http("GET", f"/api/v1/campaigns/{year}", token=stack.admin_token))
