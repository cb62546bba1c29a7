"""labelctl's CSV exports go through services/common/csvsafe: no live formula."""

import csv
import io

from click.testing import CliRunner

from labelctl import main
from labelctl.client import Api
from labelctl.importer import tokens_file_writer
from services.common import csvsafe

UNSAFE_PALMARES = (
    "annee,code_insee,collectivite,arobases\r\n"
    '2031,25056,"=HYPERLINK(""http://evil.example"",""Cliquez"")",4\r\n'
    "2031,38185,Grenoble,5\r\n"
)


class FakeResponse:
    status_code = 200
    encoding = "utf-8"
    text = UNSAFE_PALMARES


def test_palmares_export_neutralises_a_formula_even_from_an_older_gateway(monkeypatch, tmp_path):
    monkeypatch.setattr(Api, "raw", lambda self, method, path, **kw: FakeResponse())
    target = tmp_path / "palmares.csv"
    result = CliRunner().invoke(main.cli, ["palmares", "export", "2031", "-o", str(target)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"), newline="")))
    assert rows[1][2] == '\'=HYPERLINK("http://evil.example","Cliquez")'
    assert rows[2] == ["2031", "38185", "Grenoble", "5"]


def test_a_safe_palmares_is_exported_byte_for_byte():
    safe = 'annee,collectivite\r\n2031,"Saint-Denis, La Réunion"\r\n2031,\'=1+1\r\n'
    out = io.StringIO()
    csvsafe.writer(out, lineterminator="\r\n").writerows(csv.reader(io.StringIO(safe, newline="")))
    assert out.getvalue() == safe


def test_the_tokens_file_neutralises_its_cells():
    out = io.StringIO()
    tokens_file_writer(out).writerow(["=1+1", "col-1", "-token"])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["COM", "ID", "TOKEN"],
        ["'=1+1", "col-1", "'-token"],
    ]
