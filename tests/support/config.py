"""The nameko config of a test: deploy/config.yaml (the one place defaults are
written, read with nameko's `${VAR:default}` rules) with the test's overrides."""

from pathlib import Path
from typing import Any

from services.common.config import load_config

CONFIG_FILE = Path(__file__).resolve().parents[2] / "deploy" / "config.yaml"


def service_config(*bases: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """deploy/config.yaml, then each of `bases` (say nameko's rabbit_config), then `overrides`."""
    config = load_config(str(CONFIG_FILE))
    config.pop("LOGGING", None)  # pytest's logging stays as it is
    for base in bases:
        config.update(base)
    config.update(overrides)
    return config
