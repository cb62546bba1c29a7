"""docker-compose tests (pytest-docker): skipped with a clear reason where no Docker engine answers.

pytest-docker's `docker_services` would error (not skip) without an engine, so
tests request `compose_stack`, which checks `docker info` first and only then
asks for `docker_services`.
"""

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/tests/docker/" in str(item.fspath):
            item.add_marker(pytest.mark.docker)


def _docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no `docker` command on this machine"
    try:
        out = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`docker info` failed: {exc}"
    if out.returncode != 0:
        return (
            "`docker info` failed (no Docker engine answers): "
            + (out.stderr.strip().splitlines() or [""])[-1]
        )
    try:
        subprocess.run(["docker", "compose", "version"], capture_output=True, check=True, timeout=20)
    except Exception:
        return "`docker compose` (v2 plugin) is not available"
    return None


@pytest.fixture(scope="session")
def docker_engine():
    problem = _docker_problem()
    if problem:
        pytest.skip(f"Docker engine not available: {problem}")


@pytest.fixture(scope="session")
def docker_compose_file(pytestconfig):
    return str(ROOT / "docker-compose.yml")


@pytest.fixture(scope="session")
def docker_compose_project_name():
    return "labelvi_test"


@pytest.fixture(scope="session")
def docker_setup():
    # docker-compose.yml runs without local mode: its change-me-* defaults are refused at start
    for name in ("LABEL_ADMIN_TOKEN", "LABEL_SECRET_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(32))
    return ["up --build -d"]


@pytest.fixture(scope="session")
def docker_cleanup():
    return ["down -v"]


@pytest.fixture(scope="session")
def compose_stack(docker_engine, request):
    """The docker-compose stack up (pytest-docker), as the gateway's base URL."""
    docker_services = request.getfixturevalue("docker_services")
    port = docker_services.port_for("gateway", 8000)
    return docker_services, f"http://127.0.0.1:{port}"
