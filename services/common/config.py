"""Read deploy/config.yaml outside nameko (scripts, tests) with nameko's `${VAR:default}` rules."""

from typing import Any

import yaml
from nameko.cli.main import setup_yaml_parser


def load_config(path: str = "deploy/config.yaml") -> dict[str, Any]:
    setup_yaml_parser()
    with open(path) as handle:
        config: dict[str, Any] = yaml.safe_load(handle)
        return config
