"""services/common/startup.py: no default or short secret outside local mode."""

import logging

import pytest

from services.common.startup import (
    MIN_SECRET_LENGTH,
    InsecureConfiguration,
    check_at_start,
    is_local_mode,
    secret_problems,
)

STRONG = {"LABEL_ADMIN_TOKEN": "a" * MIN_SECRET_LENGTH, "LABEL_SECRET_KEY": "s" * 40}
NO_ENV: dict[str, str] = {}


@pytest.mark.parametrize(
    "name, value",
    [
        ("LABEL_ADMIN_TOKEN", "admin-dev-token"),
        ("LABEL_SECRET_KEY", "dev-secret-change-me"),
        ("LABEL_ADMIN_TOKEN", "change-me-admin-token"),
        ("LABEL_SECRET_KEY", "change-me-secret-key"),
        ("LABEL_SECRET_KEY", "change-me-and-make-it-longer-than-32-chars"),
        ("LABEL_SECRET_KEY", "x" * (MIN_SECRET_LENGTH - 1)),
        ("LABEL_ADMIN_TOKEN", ""),
        ("LABEL_ADMIN_TOKEN", None),
    ],
)
def test_a_default_or_short_secret_refuses_to_start_and_names_the_variable(caplog, name, value):
    config = dict(STRONG, **{name: value})
    with caplog.at_level(logging.CRITICAL), pytest.raises(InsecureConfiguration) as caught:
        check_at_start(config, "jury", environ=NO_ENV)
    assert name in str(caught.value)
    assert any(name in r.getMessage() and "démarrage refusé" in r.getMessage() for r in caplog.records)


def test_the_secret_itself_is_never_logged_unless_it_is_a_default(caplog):
    config = dict(STRONG, LABEL_SECRET_KEY="my-real-but-short-secret")
    with caplog.at_level(logging.CRITICAL), pytest.raises(InsecureConfiguration) as caught:
        check_at_start(config, "jury", environ=NO_ENV)
    assert "my-real-but-short-secret" not in caplog.text + str(caught.value)


def test_strong_secrets_start_and_keep_the_address():
    config = dict(STRONG, WEB_SERVER_ADDRESS="0.0.0.0:8000")
    assert secret_problems(config) == []
    check_at_start(config, "gateway", environ=NO_ENV)
    assert config["WEB_SERVER_ADDRESS"] == "0.0.0.0:8000"


@pytest.mark.parametrize("flag", ["1", "true", "yes", "on"])
def test_local_mode_accepts_the_defaults_and_listens_on_loopback_only(flag):
    config = {
        "LABEL_ADMIN_TOKEN": "admin-dev-token",
        "LABEL_SECRET_KEY": "dev-secret-change-me",
        "LABEL_LOCAL_MODE": flag,
        "WEB_SERVER_ADDRESS": "0.0.0.0:8123",
    }
    check_at_start(config, "gateway", environ=NO_ENV)
    assert config["WEB_SERVER_ADDRESS"] == "127.0.0.1:8123"


@pytest.mark.parametrize("flag", ["", "0", "false", "no"])
def test_anything_else_is_not_local_mode(flag):
    assert not is_local_mode({"LABEL_LOCAL_MODE": flag}, environ=NO_ENV)
    with pytest.raises(InsecureConfiguration):
        check_at_start({"LABEL_LOCAL_MODE": flag}, "awards", environ=NO_ENV)


def test_the_config_wins_over_the_environment_and_the_environment_is_the_fallback():
    assert is_local_mode({}, environ={"LABEL_LOCAL_MODE": "1"})
    assert not is_local_mode({"LABEL_LOCAL_MODE": ""}, environ={"LABEL_LOCAL_MODE": "1"})
