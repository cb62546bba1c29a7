"""HTML forms → API payloads (services/gateway/forms.py)."""

from werkzeug.datastructures import MultiDict

from services.gateway.forms import (
    application_from_form,
    collectivite_from_form,
    email_from_form,
    form_errors,
    review_from_form,
)

GRID = {
    "enjeux": [
        {
            "code": "acces",
            "label": "Accès",
            "services": [{"code": "wifi", "label": "Wi-Fi"}, {"code": "epn", "label": "EPN"}],
        },
        {"code": "culture", "label": "Culture", "services": [{"code": "media", "label": "Médiathèque"}]},
    ]
}


def test_application_form_keeps_known_services_existing_rows_and_filled_new_rows():
    form = MultiDict(
        [
            ("services", "wifi"),
            ("services", "media"),
            ("services", "wifi"),
            ("services", "injected"),
            ("initiative_count", "2"),
            ("initiatives-0-enjeu", "acces"),
            ("initiatives-0-title", " Fablab "),
            ("initiatives-0-description", "Ouvert à tous"),
            ("initiatives-0-url", ""),
            ("initiatives-1-enjeu", "acces"),
            ("initiatives-1-title", "Ancien"),
            ("initiatives-1-remove", "1"),
            ("new-culture-title", "Conseil en vidéo"),
            ("new-culture-description", "Diffusé"),
            ("new-culture-url", "https://ville.fr/video"),
            ("new-culture-publish", "1"),
            ("new-acces-title", ""),
            ("new-acces-description", ""),
        ]
    )
    assert application_from_form(form, GRID) == {
        "services": ["wifi", "media"],
        "initiatives": [
            # No box ticked: not published (consent is off by default).
            {
                "title": "Fablab",
                "enjeu": "acces",
                "description": "Ouvert à tous",
                "url": None,
                "publish": False,
            },
            {
                "title": "Conseil en vidéo",
                "enjeu": "culture",
                "description": "Diffusé",
                "url": "https://ville.fr/video",
                "publish": True,
            },
        ],
    }


def test_application_form_ignores_a_bogus_row_count():
    form = MultiDict([("initiative_count", "-3"), ("services", "epn")])
    assert application_from_form(form, GRID) == {"services": ["epn"], "initiatives": []}


def test_review_form_reads_scores_with_non_applicable_and_names_what_is_missing():
    form = MultiDict(
        [
            ("score-acces", "na"),
            ("score-culture", "4"),
            ("arobases", "3"),
            ("mentions", "m1"),
            ("mentions", "zz"),
        ]
    )
    data, errors = review_from_form(form, ["acces", "culture"], ["m1", "m2"])
    assert errors == {}
    assert data == {"scores": {"acces": None, "culture": 4}, "arobases": 3, "mentions": ["m1"], "comment": ""}

    data, errors = review_from_form(MultiDict([("score-acces", "5")]), ["acces", "culture"], [])
    assert set(errors) == {"f-scores-acces", "f-scores-culture", "f-arobases"}
    assert "non applicable" in errors["f-scores-acces"][0]


def test_sign_up_form_reads_french_numbers_and_member_communes():
    form = MultiDict(
        [
            ("kind", "epci"),
            ("insee_code", "200067106"),
            ("name", "Grand Besançon Métropole"),
            ("population", "196 000"),
            ("region", "Bourgogne-Franche-Comté"),
            ("department", "25"),
            ("email", "numerique@grandbesancon.fr"),
            ("member_communes", "25056, 25031\n25047"),
        ]
    )
    data, errors = collectivite_from_form(form)
    assert errors == {}
    assert data["population"] == 196000 and data["member_communes"] == ["25056", "25031", "25047"]

    data, errors = collectivite_from_form(MultiDict([("population", "beaucoup"), ("kind", "ville")]))
    assert errors == {
        "f-population": ["La population est un nombre entier d'habitants."],
        "f-kind": ["Choisissez « commune » ou « EPCI »."],
    }


def test_email_form():
    assert email_from_form(MultiDict([("email", " mairie@ville.fr ")])) == ("mairie@ville.fr", {})
    assert email_from_form(MultiDict([("email", "")]))[1] == {
        "f-email": ["Indiquez votre adresse électronique."]
    }
    assert "invalide" in email_from_form(MultiDict([("email", "pas une adresse")]))[1]["f-email"][0]


def test_api_errors_land_on_their_inputs():
    fields = {
        "initiatives.3.url": ["Adresse web invalide."],
        "member_communes.2": ["Code INSEE invalide."],
        "siren": ["x"],
    }
    assert form_errors(fields, {"member_communes": "member_communes", "siren": "insee_code"}) == {
        "f-initiatives-3-url": ["Adresse web invalide."],
        "f-member_communes": ["Code INSEE invalide."],
        "f-insee_code": ["x"],
    }
