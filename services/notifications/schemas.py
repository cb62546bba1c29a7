"""marshmallow schemas of the notifications service's RPC arguments."""

from marshmallow import fields, validate

from services.common.validation import StrictSchema
from services.notifications.logic import STATES


class ListOutbox(StrictSchema):
    state = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(STATES))
    limit = fields.Integer(load_default=500, validate=validate.Range(1, 5000))


class EmailRef(StrictSchema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$"))
