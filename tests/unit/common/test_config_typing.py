"""deploy/config.yaml: values from the environment are strings as given.

nameko's plain `${VAR:default}` parses the substituted value as YAML
(LABEL_ADMIN_TOKEN=0777 would be the integer 511, an all-digit secret a number,
"yes" a boolean); the text settings use `!raw_env_var`.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common import tokens
from services.common.clock import utcnow
from services.common.config import load_config
from services.gateway.http import ApiError, authenticate

CONFIG_PATH = str(Path(__file__).resolve().parents[3] / "deploy" / "config.yaml")
TEXT_SETTINGS = (
    "AMQP_URI",
    "MONGODB_URI",
    "MONGODB_DATABASE_PREFIX",
    "SMTP_URL",
    "SMTP_FROM",
    "PUBLIC_BASE_URL",
    "LABEL_ADMIN_TOKEN",
    "LABEL_SECRET_KEY",
    "ORGANISER_EMAILS",
)


@pytest.mark.parametrize("value", ["0777", "12345678901234567890123456789012345", "1e5", "yes", "null", "~"])
@pytest.mark.parametrize("name", TEXT_SETTINGS)
def test_text_settings_keep_the_string_as_given(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    assert load_config(CONFIG_PATH)[name] == value


def test_octal_looking_admin_token_is_not_511(monkeypatch):
    monkeypatch.setenv("LABEL_ADMIN_TOKEN", "0777")
    config = load_config(CONFIG_PATH)
    assert config["LABEL_ADMIN_TOKEN"] == "0777"
    request = Request(EnvironBuilder(headers={"Authorization": "Bearer 511"}).get_environ())
    with pytest.raises(ApiError) as caught:  # 401, never the organiser
        authenticate(config, request)
    assert caught.value.status == 401


def test_an_all_digit_secret_signs_and_verifies(monkeypatch):
    secret = "9" * 40
    monkeypatch.setenv("LABEL_SECRET_KEY", secret)
    config = load_config(CONFIG_PATH)
    token = tokens.issue(config["LABEL_SECRET_KEY"], "juror", "j-1", utcnow(), timedelta(days=1))
    request = Request(EnvironBuilder(headers={"Authorization": f"Bearer {token}"}).get_environ())
    assert authenticate(config, request).subject == "j-1"


def test_defaults_and_numbers_are_unchanged(monkeypatch):
    for name in (*TEXT_SETTINGS, "GATEWAY_PORT", "SMTP_BATCH_SIZE"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(CONFIG_PATH)
    assert config["AMQP_URI"] == "amqp://guest:guest@127.0.0.1:5672/"
    assert config["SMTP_FROM"] == "Villes Internet <label@villes-internet.net>"
    assert config["WEB_SERVER_ADDRESS"] == "0.0.0.0:8000"
    assert config["SMTP_BATCH_SIZE"] == 100
