"""French grammar of place names (services/common/placenames.py) over every
TNCC value and real communes and EPCI."""

import pytest

from services.common.placenames import a, agreed, de, default_tncc, is_are, subject


def commune(name, tncc=None):
    return {"name": name, "kind": "commune", "tncc": tncc}


@pytest.mark.parametrize(
    ("name", "tncc", "of", "at", "participle"),
    [
        ("Besançon", 0, "de Besançon", "à Besançon", "labellisée"),
        ("Arras", 1, "d'Arras", "à Arras", "labellisée"),
        ("Y", 1, "d'Y", "à Y", "labellisée"),
        ("Le Mans", 2, "du Mans", "au Mans", "labellisé"),
        ("Le Havre", 2, "du Havre", "au Havre", "labellisé"),
        ("La Rochelle", 3, "de La Rochelle", "à La Rochelle", "labellisée"),
        ("Les Lilas", 4, "des Lilas", "aux Lilas", "labellisés"),
        ("Les Avirons", 4, "des Avirons", "aux Avirons", "labellisés"),
        ("L'Isle-Adam", 5, "de L'Isle-Adam", "à L'Isle-Adam", "labellisée"),
        ("Aux Marais", 6, "des Marais", "aux Marais", "labellisés"),
        ("Las Illas", 7, "de Las Illas", "à Las Illas", "labellisées"),
        ("Los Masos", 8, "de Los Masos", "à Los Masos", "labellisés"),
    ],
)
def test_every_tncc(name, tncc, of, at, participle):
    place = commune(name, tncc)
    assert (de(place), a(place), agreed(place, "labellisé")) == (of, at, participle)
    # Without INSEE's TNCC, the name alone gives the same.
    assert default_tncc(name) == tncc
    assert (de(commune(name)), a(commune(name))) == (of, at)


def test_plural_names_take_a_plural_verb():
    assert is_are(commune("Les Lilas", 4)) == "sont" and is_are(commune("Le Mans", 2)) == "est"
    assert f"{subject(commune('Les Lilas', 4))} {is_are(commune('Les Lilas', 4))}" == "Les Lilas sont"


def test_tncc_as_text_and_bad_values_fall_back_to_the_name():
    assert de({"name": "Le Mans", "tncc": "2"}) == "du Mans"
    assert de({"name": "Le Mans", "tncc": 42}) == "du Mans"
    assert de({"name": "Hénin-Beaumont"}) == "d'Hénin-Beaumont"
    assert de({"name": "L’Haÿ-les-Roses"}) == "de L’Haÿ-les-Roses"  # the official name, as written


@pytest.mark.parametrize(
    ("name", "of", "at", "opening", "participle"),
    [
        ("Communauté d'agglomération du Grand Besançon", "de la ", "à la ", "La ", "labellisée"),
        ("Métropole Européenne de Lille", "de la ", "à la ", "La ", "labellisée"),
        ("Syndicat mixte Deux-Sèvres Numérique", "du ", "au ", "Le ", "labellisé"),
        ("Établissement public territorial Est Ensemble", "de l'", "à l'", "L'", "labellisé"),
    ],
)
def test_an_epci_keeps_its_article(name, of, at, opening, participle):
    place = {"name": name, "kind": "epci"}
    assert (de(place), a(place), subject(place)) == (of + name, at + name, opening + name)
    assert agreed(place, "labellisé") == participle
