"""The palmarès pages' pure parts (services/gateway/routes/awards.py): which
region a URL names, a region's lines in French alphabetical order, the
JSON export put together from its chunks."""

import json

from services.gateway.routes.awards import json_with_lines, palmares_region_text, region_named

FIGURES = {
    "year": 2017,
    "draft": False,
    "labelled": [],
    "stats": {"by_region": {"La Réunion": 4, "Grand Est": 2}},
}


def line(name, insee):
    return {
        "collectivite": {"name": name, "insee_code": insee, "department": insee[:2]},
        "arobases": 3,
        "mentions": [],
        "category": "ville",
        "progression": "new",
    }


def test_a_region_is_named_by_its_slug_labelled_or_not_and_nothing_else_is():
    assert region_named(FIGURES, "la-reunion") == "La Réunion"
    assert region_named(FIGURES, "bretagne") == "Bretagne"  # a French region, none labelled
    assert region_named(FIGURES, "atlantide") is None
    assert region_named(FIGURES, "La Réunion") is None  # the slug only


def test_a_regions_lines_are_in_french_alphabetical_order():
    lines = [line("Zuydcoote", "59668"), line("Épinal", "88160"), line("Avize", "51030")]
    page = palmares_region_text(dict(FIGURES, labelled=lines), "Grand Est")
    assert page.index("Avize") < page.index("Épinal") < page.index("Zuydcoote")
    assert "3 collectivités labellisées dans la région" in page
    empty = palmares_region_text(FIGURES, "Bretagne")
    assert "Aucune collectivité de la région n'est labellisée en 2017" in empty


def test_the_json_export_from_chunks_is_the_palmares_with_its_lines_in_order():
    head = {k: v for k, v in FIGURES.items() if k != "labelled"}
    chunks = [[line("Besançon", "25056"), line("Dole", "39198")], [], [line("Grenoble", "38185")]]
    text = json_with_lines(head, iter(chunks))
    assert json.loads(text) == dict(head, labelled=[entry for chunk in chunks for entry in chunk])
    assert json.loads(json_with_lines(head, [])) == dict(head, labelled=[])  # none labelled
