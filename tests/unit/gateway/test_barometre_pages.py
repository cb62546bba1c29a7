"""The baromètre's and the directory's gateway helpers: query string filters,
charts (accessible SVG, French decimals), CSV rows."""

from werkzeug.datastructures import MultiDict

from services.gateway.routes.barometre import _csv_rows, barometre_charts, search_filters
from services.submissions import barometre
from tests.support import barometre_data


def view():
    apps = barometre_data.stored(barometre_data.applications(100), 2027)
    document = barometre.compute(
        {"year": 2027, "grid": barometre_data.GRID}, apps, "2027-11-20T18:00:00+00:00"
    )[0]
    return barometre.public_view(document)


def test_only_the_known_filled_filters_are_passed_on():
    args = MultiDict([("q", " médiathèque "), ("region", ""), ("limit", "10"), ("$where", "1"), ("band", "")])
    assert search_filters(args) == {"q": "médiathèque", "limit": "10"}


def test_the_charts_are_labelled_svg_with_french_decimals():
    charts = barometre_charts(view())
    svg = str(charts["enjeux"])
    assert svg.startswith('<svg class="chart"') and 'role="img"' in svg
    assert "<title>Part des initiatives par enjeu en 2027, en pourcentage</title>" in svg
    assert "Communication et information : 18,5 %</title>" in svg


def test_the_csv_has_one_row_per_figure():
    rows = _csv_rows(view())
    assert rows[0] == ["section", "code", "libelle", "effectif", "valeur", "evolution_points"]
    assert [
        "enjeu_part_initiatives",
        "acces",
        "Accès au numérique et infrastructures",
        104,
        26.0,
        None,
    ] in rows
    assert sum(1 for row in rows if row[0] == "service_part_collectivites") == len(barometre_data.SERVICES)
