"""labelctl palmares import: a past palmarès read from a CSV, bad lines by number."""

import io

import pytest

from labelctl.past_palmares import parse_past_palmares


def test_good_lines_become_rows_and_bad_ones_are_reported_by_line():
    text = (
        "Année;Code;Nom;Arobases;Mentions\n"
        "2019;25056;Besançon;5;Gouvernement ouvert | Télétravail\n"
        "\n"
        "2019;7201;Le Mans;@@@;\n"  # a spreadsheet dropped the leading zero; « @@@ » is not a level
        "2019;72181;Le Mans;3;\n"
        "20xx;abc;Nulle part;9;\n"
    )
    rows, rejected = parse_past_palmares(io.StringIO(text))
    mentions = ["Gouvernement ouvert", "Télétravail"]
    assert rows == [
        {"year": 2019, "code": "25056", "name": "Besançon", "arobases": 5, "mentions": mentions},
        {"year": 2019, "code": "72181", "name": "Le Mans", "arobases": 3, "mentions": []},
    ]
    assert [line for line, _ in rejected] == [4, 6]
    assert rejected[0][1] == ["arobases : de 1 à 5 attendu, pas « @@@ »"]
    assert len(rejected[1][1]) == 3


def test_a_file_without_the_columns_is_refused():
    with pytest.raises(ValueError) as refused:
        parse_past_palmares(io.StringIO("year,insee\n2019,25056\n"))
    assert "colonnes manquantes : annee, code, nom, arobases" in str(refused.value)
