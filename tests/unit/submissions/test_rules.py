"""Pure rules of the submissions service: categories, codes, the default grid, validation."""

import pytest

from services.common.errors import ValidationFailed
from services.common.validation import load
from services.submissions import logic, schemas


def commune(**over):
    data = {
        "insee_code": "25056",
        "name": "Besançon",
        "kind": "commune",
        "population": 119000,
        "region": "Bourgogne-Franche-Comté",
        "department": "25",
        "email": "numerique@besancon.fr",
    }
    data.update(over)
    return data


def fields_of(schema, data):
    with pytest.raises(ValidationFailed) as info:
        load(schema, data)
    return info.value.fields


@pytest.mark.parametrize(
    "kind,population,category",
    [
        ("commune", 3500, "village"),
        ("commune", 3501, "ville"),
        ("commune", 1, "village"),
        ("epci", 100, "territoire"),
        ("epci", 500000, "territoire"),
    ],
)
def test_category_boundary(kind, population, category):
    assert logic.category_for(kind, population, 3500) == category


def test_default_grid_has_16_enjeux_and_138_services():
    grid = load(schemas.GridSchema(), logic.default_grid())
    assert len(grid["enjeux"]) == 16
    assert sum(len(e["services"]) for e in grid["enjeux"]) == 138
    codes = {m["code"] for m in logic.default_mentions()}
    assert codes == {
        "numerique_educatif",
        "reseau_social",
        "gouvernement_ouvert",
        "cooperation_internationale",
        "solidarite_numerique",
        "teletravail",
        "accessibilite",
    }


@pytest.mark.parametrize(
    "code,ok",
    [
        ("25056", True),
        ("2A004", True),
        ("2B033", True),
        ("97411", True),
        ("01001", True),
        ("20004", False),
        ("00001", False),
        ("2C004", False),
        ("9741", False),
        ("97711", False),
        ("abcde", False),
    ],
)
def test_insee_codes(code, ok):
    assert schemas.valid_insee(code) is ok


def test_siren_checksum():
    assert schemas.valid_siren("200046977")  # Métropole de Lyon
    assert not schemas.valid_siren("200046978")
    assert not schemas.valid_siren("20004697")


def test_region_names_are_canonicalised():
    assert schemas.canonical_region("ile-de-france") == "Île-de-France"
    assert schemas.canonical_region("Provence-Alpes-Cote d'Azur") == "Provence-Alpes-Côte d'Azur"
    assert schemas.canonical_region("Lorraine") is None
    assert len(schemas.REGIONS) == 18


def test_collectivite_validation_names_fields():
    bad = commune(
        insee_code="2C004",
        email="pas-une-adresse",
        region="Lorraine",
        population=-1,
        nickname="x",
        **{"$where": "1"},
    )
    errors = fields_of(schemas.CollectiviteSchema(), bad)
    assert {"insee_code", "email", "region", "population", "nickname", "$where"} <= set(errors)


def test_commune_code_must_match_department():
    assert "insee_code" in fields_of(schemas.CollectiviteSchema(), commune(department="24"))


def test_epci_needs_siren_and_members():
    epci = commune(kind="epci", insee_code="200046978", member_communes=[])
    errors = fields_of(schemas.CollectiviteSchema(), epci)
    assert {"insee_code", "member_communes"} <= set(errors)
    ok = load(
        schemas.CollectiviteSchema(),
        commune(kind="epci", insee_code="200046977", member_communes=["69123", "69259"]),
    )
    assert ok["kind"] == "epci"


def test_application_keys_with_dollar_or_dot_are_refused():
    data = {
        "campaign_year": 2101,
        "services": [],
        "initiatives": [{"title": "t", "enjeu": "acces", "description": "d", "a.b": 1}],
    }
    errors = fields_of(schemas.ApplicationCreateSchema(), data)
    assert any("a.b" in key for key in errors)


def test_oversized_text_is_refused():
    data = {
        "campaign_year": 2101,
        "initiatives": [{"title": "x" * 201, "enjeu": "acces", "description": "d" * 5001}],
    }
    errors = fields_of(schemas.ApplicationCreateSchema(), data)
    assert {"initiatives.0.title", "initiatives.0.description"} <= set(errors)


def test_grid_codes_are_checked():
    grid = logic.default_grid()
    errors = logic.check_against_grid(
        grid,
        {
            "services": ["acces-wifi-public-gratuit", "nope", "acces-wifi-public-gratuit"],
            "initiatives": [{"title": "t", "enjeu": "inconnu", "description": "d"}],
        },
    )
    assert set(errors) == {"services.1", "services.2", "initiatives.0.enjeu"}


def test_campaign_dates_in_order():
    data = {
        "year": 2101,
        "title": "t",
        "submissions_open_at": "2101-03-01T00:00:00+00:00",
        "submissions_close_at": "2101-02-01T00:00:00+00:00",
        "ceremony_at": "2101-01-01T00:00:00+00:00",
        "ceremony_place": "Lille",
    }
    errors = fields_of(schemas.CampaignSchema(), data)
    assert "submissions_close_at" in errors
    naive = dict(data, submissions_open_at="2101-01-01T00:00:00")
    assert "submissions_open_at" in fields_of(schemas.CampaignSchema(), naive)


def test_a_mention_without_code_is_a_field_error_not_a_crash():
    # found by schemathesis: the duplicate check read mention["code"] of a mention that failed
    campaign = {
        "year": 2271,
        "title": "Label 2271",
        "submissions_open_at": "2271-01-01T00:00:00+00:00",
        "submissions_close_at": "2271-02-01T00:00:00+00:00",
        "ceremony_at": "2271-03-01T00:00:00+00:00",
        "ceremony_place": "Lyon",
        "mentions": [{"code": "a", "label": "A"}, {"label": "sans code"}],
    }
    with pytest.raises(ValidationFailed) as refused:
        load(schemas.CampaignSchema(), campaign)
    assert refused.value.fields == {"mentions.1.code": ["Champ obligatoire."]}
