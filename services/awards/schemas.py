"""marshmallow schemas of the awards RPC arguments."""

from marshmallow import fields, validate

from services.common.validation import StrictSchema


class DecisionSchema(StrictSchema):
    arobases = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    mentions = fields.List(
        fields.String(validate=validate.Length(1, 64)), load_default=list, validate=validate.Length(max=20)
    )
    reason = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=4000))


class ReleaseSchema(StrictSchema):
    force = fields.Boolean(load_default=False)
    # Required to force a release before the submissions close.
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
