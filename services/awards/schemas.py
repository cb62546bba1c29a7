"""marshmallow schemas of the awards RPC arguments."""

from marshmallow import fields, validate

from services.awards.feedback import MAX_COMMENT_CHARS, MODERATION_STATES
from services.common.shelves import SHELF_WIDTHS
from services.common.validation import StrictSchema


class ApplicationIds(StrictSchema):
    """A page's applications, and the shelves their rows were read from
    ([width, shelf], services/common/shelves.py): the decisions taken on them
    are read by those, else one by one."""

    application_ids = fields.List(
        fields.String(validate=validate.Length(1, 200)), required=True, validate=validate.Length(max=200)
    )
    shelves = fields.List(
        fields.Tuple(
            (
                fields.Integer(strict=True, validate=validate.OneOf(SHELF_WIDTHS)),
                fields.String(validate=validate.Length(1, 200)),
            )
        ),
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=200),
    )


class DecisionSchema(StrictSchema):
    arobases = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    mentions = fields.List(
        fields.String(validate=validate.Length(1, 64)), load_default=list, validate=validate.Length(max=20)
    )
    reason = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=4000))


class ModerationSchema(StrictSchema):
    """An organiser's moderation of a juror's comment (feedback.py)."""

    state = fields.String(
        required=True,
        validate=validate.OneOf(
            MODERATION_STATES, error="Choisissez : approuver, modifier ou masquer le commentaire."
        ),
    )
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=MAX_COMMENT_CHARS))


class PastLevel(StrictSchema):
    """One line of a past palmarès (labelctl palmares import)."""

    year = fields.Integer(required=True, strict=True, validate=validate.Range(1999, 2999))
    code = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^(?:[0-9][0-9AB][0-9]{3}|[0-9]{9})$", error="Code INSEE ou SIREN attendu."
        ),
    )
    name = fields.String(load_default="", validate=validate.Length(max=200))
    arobases = fields.Integer(required=True, strict=True, validate=validate.Range(1, 5))
    mentions = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list)


class PastPalmares(StrictSchema):
    rows = fields.List(fields.Nested(PastLevel), required=True, validate=validate.Length(1, 1000))


class ReleaseSchema(StrictSchema):
    force = fields.Boolean(load_default=False)
    # Required to force a release before the submissions close.
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class PalmaresChunk(StrictSchema):
    """Which chunk of a released palmarès (logic.Awards.palmares_chunk): a
    national one has 70; past the last, a chunk is empty."""

    index = fields.Integer(required=True, strict=True, validate=validate.Range(0, 9999))
