"""Helpers of the notifications integration tests: a stoppable SMTP server process, events."""

import itertools
import subprocess
import sys
import time
from pathlib import Path

from tests.support.mail import Mailbox
from tests.support.net import free_port, tcp_ready, wait_tcp

ROOT = Path(__file__).resolve().parents[3]
SERVER = Path(__file__).with_name("smtpd_rules.py")


class SmtpServer:
    def __init__(self, directory, delay=0.0):
        self.host, self.port = "127.0.0.1", free_port()
        self.url = f"smtp://{self.host}:{self.port}"
        self.mail = Mailbox(directory)
        self.delay = delay
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(SERVER),
                "--port",
                str(self.port),
                "--dir",
                str(self.mail.path),
                "--delay",
                str(self.delay),
            ],
            cwd=ROOT,
        )
        wait_tcp(self.host, self.port, timeout=15, what="test SMTP server")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while tcp_ready(self.host, self.port, timeout=0.2) and time.monotonic() < deadline:
            time.sleep(0.05)

    def max_parallel(self):
        """The most DATA commands the server saw in progress at once."""
        return max((int(m["X-Concurrent-Data"] or 0) for m in self.mail.messages()), default=0)

    def message_ids(self):
        return [str(m["Message-ID"]) for m in self.mail.messages()]


_ids = itertools.count(1)


def collectivite(n, year, email=None):
    insee = f"{year % 100:02d}{n:03d}"
    return {
        "id": f"col-{year}-{insee}",
        "insee_code": insee,
        "name": f"Commune n°{n} de {year}",
        "kind": "commune",
        "category": "village",
        "department": insee[:2],
        "region": "Occitanie",
        "population": 1200 + n,
        "email": email or f"mairie{n}.{year}@commune.example.fr",
    }


def envelope(name, prefix, **payload):
    return dict(
        payload, event_id=f"{prefix}:{next(_ids)}", event=name, occurred_at="2024-01-01T10:00:00+00:00"
    )


def registered(n, year, prefix, email=None):
    return envelope(
        "collectivite_registered",
        prefix,
        collectivite=collectivite(n, year, email),
        access_token=f"tok-{year}-{n}",
    )


def award(n, year, prefix, email=None):
    return envelope(
        "award_decided",
        prefix,
        campaign_year=year,
        application_id=f"app-{year}-{n}",
        collectivite=collectivite(n, year, email),
        arobases=3,
        mentions=[{"code": "teletravail", "label": "Télétravail"}],
        progression="new",
        previous_arobases=None,
        ceremony_at=f"{year}-12-12T17:00:00+00:00",
        ceremony_place="Lille Grand Palais",
    )


def released(year, prefix, count=1):
    return envelope(
        "results_released",
        prefix,
        campaign_year=year,
        released_at=f"{year}-12-12T18:00:00+00:00",
        released_by="admin",
        labelled_count=count,
        pending=[],
    )
