"""`labelctl import FILE`: streams the CSV, validates each row locally, signs
the good ones up through POST /api/v1/collectivites with a small bounded pool
of worker threads (keep-alive sessions), and reports what happened.

Memory stays flat on any file size: rows are read one at a time and at most
`2 × workers` are in flight; only the rejected rows are kept (for the report).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from labelctl.client import ApiError
from labelctl.rows import RowRejected, open_rows, parse_row
from services.common import csvsafe

RETRIES = 3  # on no answer or a 5xx, with a short backoff


class ImportAborted(Exception):
    """The API refuses the whole import (bad token, wrong role): stop at once."""

    def __init__(self, error):
        super().__init__(error.french())
        self.error = error


@dataclass
class Report:
    read: int = 0
    imported: int = 0
    skipped: int = 0  # already known (409)
    rejected: list = field(default_factory=list)  # [(line, reason)]
    seconds: float = 0.0

    @property
    def rate(self):
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def lines(self, name, dry_run=False):
        verb = "valides (non envoyées : --dry-run)" if dry_run else "importées"
        out = [
            f"Import de {name} : {self.read} lignes lues en {self.seconds:.1f} s ({self.rate:.0f} lignes/s)",
            f"  {verb} : {self.imported}",
            f"  déjà connues (ignorées) : {self.skipped}",
            f"  rejetées : {len(self.rejected)}",
        ]
        for line, reason in sorted(self.rejected):
            out.append(f"    ligne {line} : {reason}")
        return out


class Importer:
    def __init__(self, api, workers=8, dry_run=False, tokens_writer=None):
        self.api = api
        self.workers = max(1, workers)
        self.dry_run = dry_run
        self.tokens_writer = tokens_writer  # csv.writer for (insee_code, id, token), or None
        self.report = Report()
        self._lock = threading.Lock()
        self._abort = None

    def sign_up(self, line, payload):
        """One row to the API. Runs in a worker; never lets a row vanish silently."""
        try:
            self._sign_up(line, payload)
        except Exception as exc:  # an unexpected answer still ends in the report
            with self._lock:
                self.report.rejected.append((line, f"échec inattendu : {exc!r}"))

    def _sign_up(self, line, payload):
        """With retries on 5xx / no answer."""
        if self._abort is not None:
            return
        error = None
        for attempt in range(RETRIES):
            try:
                response = self.api.raw("POST", "/collectivites", json=payload)
            except ApiError as exc:
                error = exc
            else:
                status = response.status_code
                if status == 201:
                    body = response.json()
                    with self._lock:
                        self.report.imported += 1
                        if self.tokens_writer is not None:
                            self.tokens_writer.writerow(
                                [payload["insee_code"], body.get("id", ""), body.get("token", "")]
                            )
                    return
                if status == 409:
                    with self._lock:
                        self.report.skipped += 1
                    return
                error = ApiError.from_response(response)
                if status in (401, 403):
                    self._abort = error
                    return
                if status < 500:
                    break
            time.sleep(0.2 * (attempt + 1))
        reasons = error.field_reasons() or [error.message]
        label = (
            "refusée par l'API"
            if 400 <= error.status < 500
            else f"échec API ({error.status or 'injoignable'})"
        )
        with self._lock:
            self.report.rejected.append((line, f"{label} : " + "; ".join(reasons)))

    def run(self, fh, on_row=None):
        """Import every row of the open text file; returns the Report.

        `on_row()` is called once per row read (for a progress bar), from this thread."""
        started = time.monotonic()
        slots = threading.BoundedSemaphore(self.workers * 2)

        def release(_future):
            slots.release()

        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="labelctl-import") as pool:
            for line, row in open_rows(fh):
                if self._abort is not None:
                    break
                self.report.read += 1
                if on_row:
                    on_row()
                try:
                    payload = parse_row(row)
                except RowRejected as exc:
                    with self._lock:
                        self.report.rejected.append((line, "; ".join(exc.reasons)))
                    continue
                if self.dry_run:
                    self.report.imported += 1
                    continue
                slots.acquire()
                pool.submit(self.sign_up, line, payload).add_done_callback(release)
        self.report.seconds = time.monotonic() - started
        if self._abort is not None:
            raise ImportAborted(self._abort)
        return self.report


def tokens_file_writer(fh):
    writer = csvsafe.writer(fh)  # no cell runs as a formula in a spreadsheet
    writer.writerow(["COM", "ID", "TOKEN"])
    return writer
