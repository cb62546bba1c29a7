"""CSV parsing and validation of `labelctl import` (pure, no API)."""

import io

import pytest

from labelctl.rows import (
    HeaderError,
    RowRejected,
    check_header,
    count_lines,
    open_rows,
    parse_population,
    parse_row,
    sniff_delimiter,
)
from services.common import reference as regions

GOOD = {
    "COM": "25056",
    "LIBELLE": "Besançon",
    "DEP": "25",
    "REG": "27",
    "PTOT": "116 466",
    "EMAIL": "numerique@besancon.example",
}


def reasons(row):
    with pytest.raises(RowRejected) as info:
        parse_row(row)
    return info.value.reasons


def test_eighteen_regions_and_every_department_mapped():
    assert len(regions.REGIONS) == 18
    assert len(regions.REGION_OF_DEPARTMENT) == 101
    assert set(regions.REGION_OF_DEPARTMENT.values()) == set(regions.REGIONS)
    assert regions.region_name("11") == "Île-de-France"
    assert regions.region_name("1") == "Guadeloupe"  # leading zero dropped by a spreadsheet
    assert regions.region_name("99") is None
    assert regions.region_of_department("2A") == "94"
    assert regions.region_of_department("971") == "01"


def test_good_commune_row_becomes_the_sign_up_payload():
    assert parse_row(GOOD) == {
        "insee_code": "25056",
        "name": "Besançon",
        "kind": "commune",
        "population": 116466,
        "region": "Bourgogne-Franche-Comté",
        "department": "25",
        "email": "numerique@besancon.example",
    }


def test_spreadsheet_dropped_leading_zeros_are_restored():
    row = dict(GOOD, COM="7102", LIBELLE="Guilherand-Granges", DEP="7", REG="84")
    payload = parse_row(row)
    assert (payload["insee_code"], payload["department"], payload["region"]) == (
        "07102",
        "07",
        "Auvergne-Rhône-Alpes",
    )


def test_corsica_and_overseas_codes():
    assert parse_row(dict(GOOD, COM="2a004", DEP="2A", REG="94"))["insee_code"] == "2A004"
    assert parse_row(dict(GOOD, COM="97113", DEP="971", REG="01"))["region"] == "Guadeloupe"


def test_epci_by_siren_with_members():
    row = dict(
        GOOD,
        COM="200041333",
        LIBELLE="CC Parthenay-Gâtine",
        DEP="79",
        REG="75",
        PTOT="37715",
        KIND="epci",
        MEMBERS="79202;79002 79007",
    )
    payload = parse_row(row)
    assert payload["kind"] == "epci"
    assert payload["member_communes"] == ["79202", "79002", "79007"]
    # a 9-digit code without KIND is an EPCI too
    assert parse_row(dict(row, KIND=""))["kind"] == "epci"


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"COM": "2505"}, "COM : le code INSEE « 02505 » n'est pas dans le département « 25 »"),
        ({"COM": "25A56"}, "COM : code INSEE invalide « 25A56 »"),
        ({"COM": ""}, "COM : code manquant"),
        ({"EMAIL": ""}, "EMAIL : adresse manquante"),
        ({"EMAIL": "mairie-at-besancon"}, "EMAIL : adresse invalide"),
        ({"PTOT": "beaucoup"}, "PTOT : population invalide « beaucoup »"),
        ({"PTOT": "-3"}, "PTOT : population invalide"),
        ({"PTOT": "0"}, "PTOT : population invalide"),
        ({"PTOT": ""}, "PTOT : population manquante"),
        ({"REG": "99"}, "REG : code région inconnu « 99 »"),
        ({"REG": "11"}, "REG : le département « 25 » n'est pas dans la région Île-de-France"),
        ({"DEP": "00"}, "DEP : département inconnu"),
        ({"LIBELLE": " "}, "LIBELLE : nom manquant"),
        ({"KIND": "ville"}, "KIND : type « ville » inconnu"),
        ({"MEMBERS": "25001"}, "MEMBERS : seul un EPCI"),
    ],
)
def test_each_bad_field_is_named_with_a_french_reason(change, expected):
    found = reasons(dict(GOOD, **change))
    assert any(r.startswith(expected) for r in found), found


def test_every_problem_of_a_row_is_reported():
    found = reasons(dict(GOOD, COM="x", EMAIL="", PTOT="?"))
    assert [r.split(" :")[0] for r in found] == ["COM", "PTOT", "EMAIL"]


def test_bad_epci_member_codes():
    row = dict(GOOD, COM="200041333", KIND="epci", DEP="79", REG="75", MEMBERS="79202,792")
    assert reasons(row) == ["MEMBERS : codes INSEE invalides « 792 »"]


def test_population_accepts_french_thousands_separators():
    assert parse_population("35 000") == 35000
    assert parse_population("35\u202f000") == 35000
    assert parse_population("3,5") is None


def test_header_is_checked_and_canonicalised():
    assert check_header(["\ufeffcom", " Libelle", "DEP", "REG", "PTOT", "EMAIL", "KIND"])[:2] == [
        "COM",
        "LIBELLE",
    ]
    with pytest.raises(HeaderError) as info:
        check_header(["COM", "LIBELLE", "DEP"])
    assert "REG, PTOT, EMAIL" in str(info.value)


def test_rows_stream_with_file_line_numbers_and_either_delimiter():
    text = (
        "COM;LIBELLE;DEP;REG;PTOT;EMAIL\n"
        "25056;Besançon;25;27;116466;a@b.example\n"
        "\n"
        '38185;"Grenoble\nla ville";38;84;158000;c@d.example\n'
        "49007;Angers;49;52;155000;e@f.example\n"
    )
    rows = list(open_rows(io.StringIO(text)))
    assert [line for line, _ in rows] == [2, 5, 6]
    assert rows[1][1]["LIBELLE"] == "Grenoble\nla ville"
    assert sniff_delimiter("COM,LIBELLE") == "," and sniff_delimiter("COM;LIBELLE") == ";"


def test_count_lines(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("COM,LIBELLE\n1,a\n2,b")  # no final newline
    assert count_lines(path) == 2


def test_the_local_system_gets_its_dev_token_and_no_other_url_does():
    from labelctl.client import LOCAL_DEV_ADMIN_TOKEN, settings_from_env

    assert settings_from_env({}) == ("http://127.0.0.1:8000", LOCAL_DEV_ADMIN_TOKEN)
    assert settings_from_env({"LABEL_API_URL": "https://label.example.org"}) == (
        "https://label.example.org",
        "",
    )
    assert settings_from_env({"LABEL_ADMIN_TOKEN": "a", "LABEL_TOKEN": "t"})[1] == "t"
    assert settings_from_env({"LABEL_ADMIN_TOKEN": "a"})[1] == "a"


def test_the_optional_tncc_column_says_which_article_the_name_takes():
    le_mans = dict(GOOD, COM="72181", LIBELLE="Le Mans", DEP="72", REG="52", TNCC="2")
    assert parse_row(le_mans)["tncc"] == 2
    assert "tncc" not in parse_row(GOOD)  # absent: read from the name
    assert reasons(dict(GOOD, TNCC="9")) == [
        "TNCC : type de nom « 9 » invalide (0 à 8, code officiel géographique de l'INSEE)"
    ]
