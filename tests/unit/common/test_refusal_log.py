"""The worker log's filter (deploy/config.yaml): a domain refusal is one INFO
line with its code, any other failure keeps its ERROR and traceback."""

import io
import logging
import logging.config

import pytest
from nameko.containers import _log as worker_log  # the logger nameko reports worker failures on

from services.common.errors import NotFound
from tests.support.config import CONFIG_FILE, load_config


class Worker:
    def __repr__(self):
        return "<WorkerContext [jury.claim]>"


@pytest.fixture
def worker_lines():
    """deploy/config.yaml's LOGGING, written to a buffer instead of stderr."""
    config = load_config(str(CONFIG_FILE))["LOGGING"]
    config["handlers"]["console"]["stream"] = buffer = io.StringIO()
    saved = logging.root.handlers[:], logging.root.level, worker_log.filters[:]
    logging.config.dictConfig(config)
    yield buffer
    logging.root.handlers[:], worker_log.filters[:] = saved[0], saved[2]
    logging.root.setLevel(saved[1])


def fail(error, expected):
    try:
        raise error
    except Exception:
        if expected:  # how nameko reports an expected exception, and any other
            worker_log.warning("(expected) error handling worker %s: %s", Worker(), error, exc_info=True)
        else:
            worker_log.exception("error handling worker %s: %s", Worker(), error)


@pytest.mark.parametrize("expected", [False, True])
def test_a_refusal_is_one_info_line_with_its_code_and_not_its_message(worker_lines, expected):
    fail(NotFound("Aucun dossier pour marie@exemple.fr.", "no_task_available"), expected)
    [line] = worker_lines.getvalue().splitlines()
    assert line.endswith(" INFO nameko.containers refused <WorkerContext [jury.claim]>: no_task_available")
    assert "marie@" not in line


def test_any_other_failure_keeps_its_error_and_traceback(worker_lines):
    fail(KeyError("state"), expected=False)
    text = worker_lines.getvalue()
    assert " ERROR nameko.containers error handling worker <WorkerContext [jury.claim]>" in text
    assert "Traceback" in text and "KeyError: 'state'" in text
