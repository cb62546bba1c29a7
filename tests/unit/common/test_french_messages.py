"""marshmallow's own messages reach users: they are French (services/common/validation.py)."""

import pytest
from marshmallow import fields, validate

from services.common.errors import ValidationFailed
from services.common.validation import StrictSchema, load


class Everything(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 5))
    count = fields.Integer(validate=validate.Range(1, 10))
    tags = fields.List(fields.String())
    scores = fields.Dict(keys=fields.String(), values=fields.Integer())
    email = fields.Email()
    url = fields.Url()
    when = fields.AwareDateTime()
    kind = fields.String(validate=validate.OneOf(["a", "b"]))
    code = fields.String(validate=validate.Regexp(r"^\d+$"))
    flag = fields.Boolean()


def errors(data):
    with pytest.raises(ValidationFailed) as failed:
        load(Everything(), data)
    return failed.value.fields


def test_every_default_message_is_french():
    found = errors(
        {
            "count": "x",
            "tags": "pas une liste",
            "scores": [],
            "email": "nope",
            "url": "nope",
            "when": "2027-01-15T18:00:00",
            "kind": "c",
            "code": "x1",
            "flag": "peut-être",
            "extra": 1,
        }
    )
    assert found == {
        "name": ["Champ obligatoire."],
        "count": ["Nombre entier attendu."],
        "tags": ["Liste attendue."],
        "scores": ["Objet attendu (clés et valeurs)."],
        "email": ["Adresse électronique invalide."],
        "url": ["Adresse web invalide."],
        "when": ["Précisez le fuseau horaire de cette date (par exemple +01:00)."],
        "kind": ["Valeur attendue parmi : a, b."],
        "code": ["Format invalide."],
        "flag": ["Booléen attendu (true ou false)."],
        "extra": ["Champ inconnu."],
    }


def test_length_and_range_messages():
    found = errors({"name": "beaucoup trop long", "count": 42})
    assert found == {
        "name": ["Entre 1 et 5 caractères ou éléments."],
        "count": ["Doit être supérieur ou égal à 1 et inférieur ou égal à 10."],
    }
    assert errors({"name": None}) == {"name": ["Ce champ ne peut pas être vide (null)."]}
