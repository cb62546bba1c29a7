"""CSV files a spreadsheet opens safely: no cell runs as a formula.

A collectivité named `=HYPERLINK("http://…","Cliquez")` would be a live
formula once the CSV is opened in a spreadsheet (CSV/formula injection). A
text cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is
written with a single quote in front (OWASP's advice), which spreadsheets show
as text. Numbers are written as they are (a negative number is not text).
The quote is added once: an already neutralised cell starts with `'`.

Every CSV we write goes through `writer()` (the gateway's palmarès, labelctl's
exports).
"""

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should show it: text never starts a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


class SafeWriter:
    """csv.writer whose rows are neutralised first."""

    def __init__(self, out: Any, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: Any, **options: Any) -> SafeWriter:
    """Like csv.writer(out, **options), with every cell through safe_cell."""
    return SafeWriter(out, **options)
