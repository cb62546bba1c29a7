"""The local FerretDB's storage choice (deploy/local/backend.py) and the supervisord
program it gives (deploy/local/procs.py): pure, no process started."""

from pathlib import Path

import pytest

from deploy.local import backend, procs


def test_the_default_is_the_one_written_in_config_yaml(monkeypatch):
    monkeypatch.delenv(backend.ENV, raising=False)
    text = (backend.ROOT / "deploy" / "config.yaml").read_text()
    assert f'FERRETDB_BACKEND: !raw_env_var "${{FERRETDB_BACKEND:{backend.backend({})}}}"' in text


@pytest.mark.parametrize("value, expected", [("postgresql", "postgresql"), (" SQLite ", "sqlite")])
def test_the_environment_chooses(value, expected):
    assert backend.backend({backend.ENV: value}) == expected


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(backend.BackendChoiceError, match="FERRETDB_BACKEND='mongo'"):
        backend.backend({backend.ENV: "mongo"})


def test_ferretdb_arguments_per_backend():
    sqlite = backend.ferretdb_args(listen="127.0.0.1:1", choice="sqlite", data_dir=Path("/d"))
    assert sqlite[1:] == ["-listen", "127.0.0.1:1", "-handler", "sqlite", "-dir", "/d"]
    url = "postgres://postgres@/x?host=/s&port=5432"
    pg = backend.ferretdb_args(listen="127.0.0.1:1", choice="postgresql", postgresql_url=url)
    assert pg[1:] == ["-listen", "127.0.0.1:1", "-handler", "postgresql", "-postgresql-url", url]


def test_supervisord_runs_ferretdb_on_sqlite_by_choice(tmp_path):
    conf = procs.supervisord_conf({backend.ENV: "sqlite"}, root=tmp_path)
    line = next(x for x in conf.splitlines() if "ferretdb-local" in x)
    assert line == f"command={tmp_path}/var/bin/ferretdb-local -listen 127.0.0.1:27017 -handler sqlite " + (
        f"-dir {tmp_path}/var/ferretdb"
    )


def test_no_ferretdb_when_mongodb_uri_is_set(tmp_path):
    conf = procs.supervisord_conf({backend.ENV: "postgresql", "MONGODB_URI": "mongodb://db/"}, root=tmp_path)
    assert "[program:ferretdb]" not in conf and "ferretdb-local" not in conf
