"""The production docker-compose stack comes up and reports healthy."""

import requests


def _healthy(url):
    try:
        r = requests.get(url + "/health", timeout=5)
        return r.status_code == 200 and r.json().get("status") == "ok"
    except (requests.RequestException, ValueError):
        return False


def test_compose_stack_health(compose_stack):
    docker_services, base_url = compose_stack
    docker_services.wait_until_responsive(check=lambda: _healthy(base_url), timeout=300.0, pause=2.0)
    body = requests.get(base_url + "/health", timeout=5).json()
    assert body["status"] == "ok"
    assert set(body["services"]) >= {"submissions", "jury", "awards", "notifications"}
