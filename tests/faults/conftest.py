"""The fault suite's fixtures: its own RabbitMQ node and FerretDB (backends.py),
and the one table `make faults` prints at the end of the run."""

import os

import pytest

from tests.faults.backends import Backends

ROWS: list[dict] = []
FULL = os.environ.get("FAULTS_FULL") == "1"  # `make faults`; else the short form of `make test`


@pytest.fixture(scope="session")
def backends():
    own = Backends().start()
    yield own
    own.stop()


@pytest.fixture
def table():
    return ROWS


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    head = ("scenario", "work done", "lost", "duplicated", "time to recover")
    lines = [
        (r["scenario"], r["work"], str(r["lost"]), str(r["duplicated"]), f"{r['recover']:.1f} s")
        for r in ROWS
    ]
    widths = [max(len(row[i]) for row in [head, *lines]) for i in range(len(head))]
    terminalreporter.section(f"fault suite ({'full' if FULL else 'short form'})")
    for row in [head, tuple("-" * w for w in widths), *lines]:
        terminalreporter.write_line(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
