"""Checks every service runs when its container starts: no default or short secret.

With LABEL_ADMIN_TOKEN or LABEL_SECRET_KEY left at a default (the
`admin-dev-token` / `dev-secret-change-me` of deploy/config.yaml, the
`change-me-*` of docker-compose.yml) or shorter than MIN_SECRET_LENGTH
characters, a service refuses to start (one log line per variable, then the
container's start fails and `nameko run` exits non-zero), unless
LABEL_LOCAL_MODE says this is a developer's machine (`make up`, `make run`,
`make test` set it). In local mode the gateway listens on 127.0.0.1 only.

Every service class declares `startup = StartupChecks()`.
"""

import logging
import os
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from nameko.extensions import DependencyProvider

log = logging.getLogger(__name__)

LOCAL_MODE = "LABEL_LOCAL_MODE"
SECRET_SETTINGS = ("LABEL_ADMIN_TOKEN", "LABEL_SECRET_KEY")
MIN_SECRET_LENGTH = 32
DEFAULT_SECRETS = frozenset(
    {
        "admin-dev-token",  # deploy/config.yaml
        "dev-secret-change-me",
        "change-me-admin-token",  # docker-compose.yml
        "change-me-secret-key",
    }
)
WEB_SERVER_ADDRESS = "WEB_SERVER_ADDRESS"
LOOPBACK = "127.0.0.1"
_TRUE = ("1", "true", "yes", "on", "oui")


class InsecureConfiguration(RuntimeError):
    """A secret left at a default or too short, outside local mode."""


def is_local_mode(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> bool:
    """LABEL_LOCAL_MODE from the config (deploy/config.yaml), else from the environment."""
    value = config.get(LOCAL_MODE)
    if value is None:
        value = (os.environ if environ is None else environ).get(LOCAL_MODE)
    return str(value if value is not None else "").strip().lower() in _TRUE


def secret_problems(config: Mapping[str, Any]) -> list[str]:
    """One line (French / English) per secret that must not be used in production."""
    problems = []
    for name in SECRET_SETTINGS:
        value = config.get(name)
        text = value if isinstance(value, str) else ""
        if text in DEFAULT_SECRETS or text.startswith("change-me"):
            problems.append(f"{name} a sa valeur par défaut « {text} » / {name} is left at its default value")
        elif len(text) < MIN_SECRET_LENGTH:
            problems.append(
                f"{name} fait {len(text)} caractères, il en faut au moins {MIN_SECRET_LENGTH}"
                f" / {name} is {len(text)} characters long, at least {MIN_SECRET_LENGTH} are required"
            )
    return problems


def loopback_address(address: str) -> str:
    """`host:port` → `127.0.0.1:port` (the port is kept)."""
    _, _, port = str(address).rpartition(":")
    return f"{LOOPBACK}:{port or '8000'}"


def check_at_start(
    config: MutableMapping[str, Any], service: str = "", environ: Mapping[str, str] | None = None
) -> None:
    """Raise InsecureConfiguration (after logging why) when a secret is unsafe
    outside local mode; in local mode, bind the web server to 127.0.0.1."""
    problems = secret_problems(config)
    if is_local_mode(config, environ):
        address = config.get(WEB_SERVER_ADDRESS)
        if address is not None and not str(address).startswith(f"{LOOPBACK}:"):
            config[WEB_SERVER_ADDRESS] = loopback_address(str(address))
        if problems:
            log.warning(
                "%s: mode local (%s) : secrets de développement acceptés / local mode: development secrets "
                "accepted; listening on %s only",
                service,
                LOCAL_MODE,
                LOOPBACK,
            )
        return
    if not problems:
        return
    for problem in problems:
        log.critical(
            "%s : démarrage refusé, %s ; choisissez un secret aléatoire d'au moins %d caractères "
            "(ou %s=1 sur un poste de développement) / refusing to start",
            service,
            problem,
            MIN_SECRET_LENGTH,
            LOCAL_MODE,
        )
    raise InsecureConfiguration(f"{service}: démarrage refusé / refusing to start: " + "; ".join(problems))


class StartupChecks(DependencyProvider):
    """Runs check_at_start when the container is set up, before anything listens,
    then the service's own `checks` (callables of the config that raise
    ValueError on a setting the service must not run with)."""

    def __init__(self, *checks: Callable[[Mapping[str, Any]], object]) -> None:
        self.checks = checks

    def setup(self) -> None:
        config, service = self.container.config, self.container.service_name
        check_at_start(config, service)
        for check in self.checks:
            try:
                check(config)
            except ValueError as exc:
                log.critical("%s : démarrage refusé, %s / refusing to start", service, exc)
                raise InsecureConfiguration(
                    f"{service}: démarrage refusé / refusing to start: {exc}"
                ) from exc
