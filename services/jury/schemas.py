"""marshmallow schemas of the jury's RPC arguments."""

from marshmallow import fields, validate

from services.common.paging import MAX_LIMIT
from services.common.validation import StrictSchema

# Tasks listed at most at once (GET /review-tasks, a juror's page): one more
# than the API's largest page, which tells whether another follows.
TASK_PAGE = MAX_LIMIT + 1

DEPARTMENT = validate.Regexp(
    r"^(?:\d{2}|2[abAB]|\d{3})$", error="Code de département invalide (ex. 25, 2A, 974)."
)
# INSEE commune code (5 characters, Corsica 2A/2B) or SIREN (9 digits).
CONFLICT_CODE = validate.Regexp(
    r"^(?:[0-9][0-9AaBb][0-9]{3}|[0-9]{9})$", error="Code INSEE (5 caractères) ou SIREN (9 chiffres) attendu."
)


class JurorRegistration(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    email = fields.Email(required=True, validate=validate.Length(max=320))
    department = fields.String(required=True, validate=DEPARTMENT)
    conflicts = fields.List(
        fields.String(validate=CONFLICT_CODE), load_default=list, validate=validate.Length(max=500)
    )


class DeliberationPage(StrictSchema):
    after = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 200))
    limit = fields.Integer(load_default=200, strict=True, validate=validate.Range(1, 200))
    disagreements = fields.Boolean(load_default=False, truthy={True}, falsy={False})


class ClaimRequest(StrictSchema):
    campaign_year = fields.Integer(required=True, strict=True, validate=validate.Range(2000, 2999))


class Review(StrictSchema):
    scores = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 64)),
        # None: "non applicable" (left out of the consolidation and the statistics).
        values=fields.Integer(
            strict=True,
            allow_none=True,
            validate=validate.Range(0, 4, error="Une note d'enjeu va de 0 à 4."),
        ),
        required=True,
    )
    arobases = fields.Integer(
        required=True, strict=True, validate=validate.Range(1, 5, error="De 1 à 5 arobases.")
    )
    mentions = fields.List(
        fields.String(validate=validate.Length(1, 64)), load_default=list, validate=validate.Length(max=50)
    )
    comment = fields.String(load_default="", validate=validate.Length(max=10000))


class TaskListQuery(StrictSchema):
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "claimed", "done"]))
    campaign_year = fields.Integer(load_default=None, validate=validate.Range(2000, 2999))
    after = fields.String(load_default=None, validate=validate.Length(1, 200))  # a task id
    limit = fields.Integer(load_default=TASK_PAGE, validate=validate.Range(1, TASK_PAGE))
