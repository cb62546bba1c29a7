"""marshmallow schemas of the notifications service's RPC arguments."""

from marshmallow import fields, validate

from services.common.validation import StrictSchema
from services.notifications.logic import STATES


class ListOutbox(StrictSchema):
    state = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATES))
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 5000))
    # (created_at, id) of the previous page's last email
    after = fields.Tuple(
        (fields.AwareDateTime(), fields.String(validate=validate.Length(1, 64))), load_default=None
    )
    recipient = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))


class OutboxQueue(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class SignInLink(StrictSchema):
    label = fields.String(required=True, validate=validate.Length(1, 200))
    url = fields.Url(
        required=True, require_tld=False, schemes={"http", "https"}, validate=validate.Length(max=2000)
    )


class SignInEmail(StrictSchema):
    request_id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{8,64}$"))
    recipient = fields.Email(required=True, validate=validate.Length(max=254))
    purpose = fields.String(required=True, validate=validate.OneOf(["sign_in", "confirm", "invite"]))
    links = fields.List(fields.Nested(SignInLink), required=True, validate=validate.Length(1, 20))
    minutes = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1440))


class EmailRef(StrictSchema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"))
