"""marshmallow schemas of the API's response bodies, for the OpenAPI spec
(openapi.py). They name the fields clients rely on (API.md); `unknown=INCLUDE`
says a body may carry more fields than listed (additionalProperties)."""

from marshmallow import INCLUDE, Schema, fields, validate

ROLES = ["organiser", "collectivite", "juror"]


class Body(Schema):
    class Meta:
        unknown = INCLUDE


def _nullable_text():
    return fields.String(allow_none=True)


class ErrorDetail(Body):
    code = fields.String(required=True, metadata={"description": "snake_case"})
    message = fields.String(required=True, metadata={"description": "phrase en français"})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "champ → raisons"},
    )


class Error(Body):
    error = fields.Nested(ErrorDetail, required=True)


class CodeLabel(Body):
    code = fields.String(required=True)
    label = fields.String(required=True)


class Campaign(Body):
    year = fields.Integer(required=True)
    title = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["open", "closed", "released"]))
    submissions_open_at = fields.String(required=True)
    submissions_close_at = fields.String(required=True)
    ceremony_at = fields.String(required=True)
    ceremony_place = fields.String(required=True)
    grid = fields.Dict(required=True)
    mentions = fields.List(fields.Nested(CodeLabel), required=True)
    released_at = _nullable_text()


class CollectiviteRef(Body):
    id = fields.String(required=True)
    insee_code = _nullable_text()
    name = fields.String(required=True)
    category = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    region = fields.String(allow_none=True)


class CollectiviteCreated(Body):
    id = fields.String(required=True)
    category = fields.String(required=True, validate=validate.OneOf(["ville", "village", "territoire"]))
    token = fields.String(metadata={"description": "jeton d'API de la collectivité"})


class Collectivite(CollectiviteRef):
    kind = fields.String(required=True, validate=validate.OneOf(["commune", "epci"]))
    population = fields.Integer(required=True)
    email = fields.String(allow_none=True)
    member_communes = fields.List(fields.String())
    created_at = fields.String()


class Application(Body):
    id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    collectivite_id = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["draft", "submitted", "withdrawn"]))
    services = fields.List(fields.String(), required=True)
    initiatives = fields.List(fields.Dict(), required=True)


class StateOnly(Body):
    state = fields.String(required=True)


class JurorCreated(Body):
    id = fields.String(required=True)
    token = fields.String()


class Juror(Body):
    id = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    department = fields.String(required=True)
    conflicts = fields.List(fields.String())


class Task(Body):
    id = fields.String(required=True)
    application_id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    collectivite = fields.Nested(CollectiviteRef, required=True)
    state = fields.String(required=True, validate=validate.OneOf(["open", "claimed", "done", "cancelled"]))
    claimed_by = fields.String()
    lease_expires_at = fields.String()


class Dossier(Body):
    task = fields.Dict()


class Proposal(Body):
    arobases = fields.Integer(allow_none=True)
    mentions = fields.List(fields.String())


class DeliberationRow(Body):
    application_id = fields.String(required=True)
    collectivite = fields.Dict(required=True)
    proposal = fields.Nested(Proposal, allow_none=True)
    disagreement = fields.Boolean()
    decision = fields.Dict(allow_none=True)


class Decision(Body):
    arobases = fields.Integer()
    mentions = fields.List(fields.String())


class ReleasePreview(Body):
    ready = fields.Boolean(required=True)
    by_arobases = fields.Dict(required=True, keys=fields.String(), values=fields.Integer())
    undecided = fields.List(fields.String(), required=True)
    missing_email = fields.List(fields.String(), required=True)
    emails_to_send = fields.Integer(required=True)
    released = fields.Boolean(required=True)
    counted_at = fields.String(required=True, metadata={"description": "quand l'aperçu a été établi"})
    recounting = fields.Boolean(required=True, metadata={"description": "un aperçu plus récent est en cours"})


class ReleaseRefusal(Body):
    code = fields.String(required=True)
    message = fields.String(required=True)


class Release(Body):
    year = fields.Integer(required=True)
    state = fields.String(
        required=True,
        validate=validate.OneOf(["not_requested", "requested", "refused", "releasing", "released"]),
    )
    frozen = fields.Boolean(
        required=True, metadata={"description": "décisions et retraits clos (demandée ou publiée)"}
    )
    requested_at = fields.String(metadata={"description": "requested, refused"})
    requested_by = fields.String(metadata={"description": "requested, refused"})
    refusal = fields.Nested(ReleaseRefusal, allow_none=True, metadata={"description": "refused"})
    released_at = fields.String(metadata={"description": "releasing, released"})
    released_by = fields.String(metadata={"description": "releasing, released"})
    labelled_count = fields.Integer(metadata={"description": "releasing, released"})


class PalmaresEntry(Body):
    collectivite = fields.Dict(required=True)
    category = fields.String(required=True)
    region = fields.String(allow_none=True)
    arobases = fields.Integer(required=True)
    mentions = fields.List(fields.Nested(CodeLabel), required=True)


class Palmares(Body):
    year = fields.Integer(required=True)
    released_at = fields.String(allow_none=True)
    labelled = fields.List(fields.Nested(PalmaresEntry), required=True)
    stats = fields.Dict(required=True)


class ApplicationResult(Body):
    application_id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    labelled = fields.Boolean(required=True)
    released_at = fields.String(allow_none=True)
    arobases = fields.Integer()
    mentions = fields.List(fields.Nested(CodeLabel))


class HistoryImported(Body):
    imported = fields.Integer(required=True)


class Email(Body):
    id = fields.String(required=True)
    template = fields.String(required=True)
    recipient = fields.String(required=True)
    state = fields.String(required=True)
    attempts = fields.Integer(required=True)


class EmailDetail(Email):
    text = _nullable_text()
    html = _nullable_text()


class DeadLetter(Body):
    source = fields.String(allow_none=True)
    event = fields.String(allow_none=True)
    handler = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    attempts = fields.Integer(allow_none=True)
    payload = fields.Raw(required=True)


class Replayed(Body):
    replayed = fields.Integer(required=True)


class Organiser(Body):
    id = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    invited_by = _nullable_text()
    revoked = fields.Boolean(required=True)


class SessionsEnded(Body):
    ended = fields.Integer(required=True)


class Revoked(Body):
    revoked = fields.Boolean(required=True)
    sessions_ended = fields.Integer(required=True)


class Comment(Body):
    review_id = fields.String(required=True)
    number = fields.Integer(required=True, metadata={"description": "rang de l'évaluation, jamais le juré"})
    comment = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["pending", "approved", "edited", "hidden"]))
    text = _nullable_text()
    moderated_by = _nullable_text()


class TokenRevoked(Body):
    revoked = fields.Boolean(required=True)
    id = fields.String()
    expired = fields.Boolean()


class Reassigned(Body):
    id = fields.String(required=True)
    email = fields.String(required=True)
    confirmed = fields.Boolean(required=True)
    sessions_ended = fields.Integer(required=True)


class BarometreYears(Body):
    years = fields.List(fields.Integer(), required=True)


class Barometre(Body):
    year = fields.Integer(required=True)
    enjeux = fields.List(fields.Dict(), required=True)
    services = fields.List(fields.Dict(), required=True)


class InitiativesPage(Body):
    items = fields.List(fields.Dict(), required=True)
    next_cursor = _nullable_text()


class Prediagnostic(Body):
    withheld = fields.Boolean(required=True)
