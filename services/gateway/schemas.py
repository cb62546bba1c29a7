"""marshmallow schemas of the gateway's own API bodies (organisers and accounts)."""

from marshmallow import fields, validate

from services.common.validation import StrictSchema

ROLES = ["organiser", "collectivite", "juror"]


class OrganiserInvite(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    email = fields.Email(
        required=True,
        validate=validate.Length(max=254),
        error_messages={"invalid": "Adresse électronique invalide."},
    )


class AccountRef(StrictSchema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES, error="Rôle inconnu."))
    subject = fields.String(required=True, validate=validate.Length(1, 254))


class Reassignment(StrictSchema):
    email = fields.Email(
        required=True,
        validate=validate.Length(max=254),
        error_messages={"invalid": "Adresse électronique invalide."},
    )


class TokenRef(StrictSchema):
    """A token its holder revokes (POST /api/v1/tokens/revoke)."""

    token = fields.String(required=True, validate=validate.Length(max=1000))
