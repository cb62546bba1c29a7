"""Read deploy/config.yaml outside nameko (scripts, tests) with nameko's `${VAR:default}` rules."""

import yaml
from nameko.cli.main import setup_yaml_parser


def load_config(path="deploy/config.yaml"):
    setup_yaml_parser()
    with open(path) as handle:
        return yaml.safe_load(handle)
