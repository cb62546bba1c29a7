"""The OpenAPI 3.1 contract of the API, served at GET /api/v1/openapi.json.

Generated with apispec from the marshmallow schemas (the services' request
schemas, responses.py for the bodies) and from http.ROUTES, the routes as @api
declared them: path, method, roles. OPERATIONS below adds what the decorator
does not know (bodies, query parameters, the errors each may answer); a unit
test fails when a route has no entry here, so none can be left out.
"""

import re
from dataclasses import dataclass, field

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls

from services.awards.schemas import DecisionSchema, ModerationSchema, PastPalmares, ReleaseSchema
from services.common import paging
from services.gateway import responses as r
from services.gateway.http import ROUTES, Route
from services.gateway.schemas import AccountRef, OrganiserInvite, Reassignment, TokenRef
from services.jury.schemas import ClaimRequest, JurorRegistration, Review
from services.notifications.logic import STATES as EMAIL_STATES
from services.submissions.schemas import (
    ApplicationCreateSchema,
    ApplicationPatchSchema,
    CampaignSchema,
    CollectiviteSchema,
)

API_VERSION = "1.0.0"
TITLE = "Label Territoires, Villes et Villages Internet"

ERROR_TEXT = {
    400: "Requête mal formée (JSON invalide, paramètre `limit` ou `cursor` invalide).",
    401: "Jeton d'accès manquant ou invalide.",
    403: "Rôle ou propriétaire ne donnant pas accès.",
    404: "Introuvable.",
    409: "Conflit d'état (déjà soumis, date limite passée, résultats sous embargo…).",
    413: "Corps de la requête trop volumineux.",
    429: "Trop de demandes : réessayez après le délai de l'en-tête Retry-After.",
    422: "Données invalides : `fields` nomme chaque champ refusé.",
    503: "Un décompte est en préparation : réessayez après le délai de l'en-tête Retry-After.",
    504: "Un service n'a pas répondu à temps.",
}
# Every route may answer these: body cap, bad token, service timeout.
COMMON_ERRORS = (400, 401, 413, 504)

PAGE_HEADERS = {
    "X-Next-Cursor": {
        "description": "Jeton opaque de la page suivante (paramètre `cursor`) ; absent sur la dernière page.",
        "schema": {"type": "string"},
    },
}


@dataclass(frozen=True)
class Operation:
    summary: str
    response: object = None  # a responses.py schema; [schema] for a list
    status: int = 200
    body: object = None  # the request schema
    query: dict = field(default_factory=dict)  # name → JSON schema
    errors: tuple = ()  # beyond COMMON_ERRORS and those the roles imply
    paginated: bool = False
    # OpenAPI links (stateful testing): parameter → (body field of this response, operations using it)
    links: dict = field(default_factory=dict)
    body_optional: bool = False
    content_type: str = "application/json"


def _enum(*values):
    return {"type": "string", "enum": list(values)}


YEAR_QUERY = {"type": "integer", "minimum": 2000, "maximum": 2999}

CAMPAIGN_LINKS = {
    "year": (
        "year",
        (
            "get_campaign",
            "list_applications",
            "get_deliberation",
            "get_release_preview",
            "get_release",
            "get_palmares",
        ),
    )
}
APPLICATION_LINKS = {
    "application_id": (
        "id",
        (
            "get_application",
            "update_application",
            "submit_application",
            "withdraw_application",
            "get_application_result",
            "put_decision",
        ),
    )
}
TASK_LINKS = {
    "task_id": (
        "id",
        ("review_task", "review_task_application", "declare_review_task_conflict", "release_review_task"),
    )
}

OPERATIONS: dict[str, Operation] = {
    # -- submissions --
    "create_campaign": Operation(
        "Créer une campagne", r.Campaign, 201, CampaignSchema, errors=(409, 422), links=CAMPAIGN_LINKS
    ),
    "list_campaigns": Operation("Campagnes, la plus récente d'abord", [r.Campaign], paginated=True),
    "get_campaign": Operation("Une campagne, sa grille et ses mentions", r.Campaign, errors=(404, 422)),
    "list_applications": Operation(
        "Candidatures d'une campagne (toutes pour un organisateur, les siennes pour une collectivité)",
        [r.Application],
        query={"state": _enum("draft", "submitted", "withdrawn")},
        errors=(404, 422),
        paginated=True,
    ),
    "register_collectivite": Operation(
        "Inscription d'une collectivité",
        r.CollectiviteCreated,
        201,
        CollectiviteSchema,
        errors=(409, 422, 429),
        links={"collectivite_id": ("id", ("get_collectivite",))},
    ),
    "get_collectivite": Operation("Une collectivité", r.Collectivite, errors=(404,)),
    "create_application": Operation(
        "Créer une candidature (brouillon)",
        r.Application,
        201,
        ApplicationCreateSchema,
        errors=(404, 409, 422),
        links=APPLICATION_LINKS,
    ),
    "get_application": Operation("Une candidature", r.Application, errors=(404,)),
    "update_application": Operation(
        "Modifier un brouillon", r.Application, body=ApplicationPatchSchema, errors=(404, 409, 422)
    ),
    "submit_application": Operation("Déposer la candidature", r.StateOnly, errors=(404, 409)),
    "withdraw_application": Operation("Retirer la candidature", r.StateOnly, errors=(404, 409)),
    # -- jury --
    "register_juror": Operation(
        "Inscrire un juré", r.JurorCreated, 201, JurorRegistration, errors=(409, 422, 429)
    ),
    "list_jurors": Operation("Jurés et leur charge", [r.Juror], paginated=True),
    "juror_me": Operation("Le juré connecté", r.Juror, errors=(404,)),
    "list_review_tasks": Operation(
        "Tâches d'évaluation que ce juré peut voir",
        [r.Task],
        query={"state": _enum("open", "claimed", "done"), "campaign_year": YEAR_QUERY},
        errors=(422,),
        paginated=True,
    ),
    "claim_review_task": Operation(
        "Prendre la prochaine tâche", r.Task, body=ClaimRequest, errors=(404, 409, 422), links=TASK_LINKS
    ),
    "review_task": Operation("Rendre une évaluation", r.Task, body=Review, errors=(404, 409, 422)),
    "review_task_application": Operation("Le dossier d'une tâche", r.Dossier, errors=(404, 409)),
    "declare_review_task_conflict": Operation("Se déclarer en conflit d'intérêts", r.Task, errors=(404, 409)),
    "release_review_task": Operation("Rendre la tâche", r.Task, errors=(404, 409)),
    # -- awards --
    "get_deliberation": Operation(
        "Délibération : propositions du jury et décisions", [r.DeliberationRow], errors=(404,), paginated=True
    ),
    "put_decision": Operation("Décider", r.Decision, body=DecisionSchema, errors=(404, 409, 422)),
    "import_past_palmares": Operation(
        "Importer des palmarès passés", r.HistoryImported, body=PastPalmares, errors=(422,)
    ),
    "get_comments": Operation(
        "Commentaires des jurés sur une candidature, anonymisés, et leur modération",
        [r.Comment],
        errors=(404,),
    ),
    "put_comment_moderation": Operation(
        "Approuver, modifier ou masquer un commentaire",
        r.Comment,
        body=ModerationSchema,
        errors=(404, 409, 422),
    ),
    "get_release_preview": Operation("Ce que ferait la publication", r.ReleasePreview, errors=(404, 503)),
    "post_release": Operation(
        "Publier le palmarès", r.Release, 202, ReleaseSchema, errors=(404, 409, 422), body_optional=True
    ),
    "get_release": Operation("Où en est la publication", r.Release, errors=(404,)),
    "get_palmares": Operation("Le palmarès (public après la publication)", r.Palmares, errors=(404, 409)),
    "get_palmares_csv": Operation("Le palmarès en CSV", None, errors=(404, 409), content_type="text/csv"),
    "get_application_result": Operation(
        "Le résultat d'une candidature", r.ApplicationResult, errors=(404, 409)
    ),
    # -- baromètre, Atlaas, pré-diagnostic (computed by submissions at the release) --
    "get_barometre_years": Operation("Années dont le baromètre est publié", r.BarometreYears),
    "get_barometre": Operation("Le baromètre d'une année", r.Barometre, errors=(404, 409)),
    "get_barometre_csv": Operation("Le baromètre en CSV", None, errors=(404, 409), content_type="text/csv"),
    "get_initiatives": Operation(
        "L'Atlaas : initiatives publiées avec l'accord de leur collectivité (curseur dans next_cursor)",
        r.InitiativesPage,
        query={
            "q": {"type": "string", "maxLength": 200},
            "enjeu": {"type": "string"},
            "region": {"type": "string"},
            "band": _enum("moins_3500", "3500_20000", "20000_100000", "plus_100000"),
            "year": YEAR_QUERY,
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "cursor": {"type": "string"},
        },
        errors=(422,),
    ),
    "get_prediagnostic": Operation(
        "Le pré-diagnostic d'une collectivité (agrégats de 5 collectivités au moins)",
        r.Prediagnostic,
        errors=(404,),
    ),
    # -- mail --
    "list_outbox": Operation(
        "Courriels de la file d'envoi",
        [r.Email],
        query={"state": _enum(*EMAIL_STATES)},
        errors=(422,),
        paginated=True,
    ),
    "get_outbox_email": Operation("Un courriel rendu", r.EmailDetail, errors=(404, 422)),
    "resend_outbox_email": Operation(
        "Renvoyer un courriel en échec", r.Email, 202, errors=(404, 409, 422, 429)
    ),
    # -- operations --
    "list_dead_letters": Operation("Messages en lettres mortes", [r.DeadLetter], paginated=True),
    "replay_dead_letters": Operation(
        "Rejouer les lettres mortes", r.Replayed, 202, query={"limit": {"type": "integer"}}
    ),
    # -- accounts --
    "create_organiser": Operation(
        "Inviter un organisateur", r.Organiser, 201, OrganiserInvite, errors=(409, 422, 429)
    ),
    "list_organisers": Operation("Organisateurs", [r.Organiser], paginated=True),
    "end_account_sessions": Operation(
        "Fermer les sessions d'un compte", r.SessionsEnded, body=AccountRef, errors=(404, 422)
    ),
    "revoke_token": Operation(
        "Révoquer un jeton d'API (son détenteur)", r.TokenRevoked, body=TokenRef, errors=(422,)
    ),
    "reassign_collectivite": Operation(
        "Rendre un code à la bonne adresse (fin des sessions et jetons précédents)",
        r.Reassigned,
        body=Reassignment,
        errors=(404, 422, 429),
    ),
    "revoke_account": Operation("Révoquer un compte", r.Revoked, body=AccountRef, errors=(404, 409, 422)),
    "openapi_spec": Operation("Ce document"),
}

_PARAM = re.compile(r"<(?:(\w+)(?:\(max=(\d+)\))?:)?(\w+)>")


def api_routes() -> list[Route]:
    return [route for route in ROUTES if route.path.startswith("/api/")]


def _path(route: Route) -> tuple[str, list]:
    params = []
    for converter, maximum, name in _PARAM.findall(route.path):
        schema: dict = {"type": "string"}
        if converter == "int":
            schema = {"type": "integer", "minimum": 0} | ({"maximum": int(maximum)} if maximum else {})
        params.append({"in": "path", "name": name, "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(3) + "}", route.path), params


def _schema_ref(response):
    if isinstance(response, list):
        return {"type": "array", "items": response[0]}
    return response if response is not None else {"type": "object"}


def _operation(route: Route, op: Operation, path_params: list) -> dict:
    roles = list(route.roles or ([] if route.public else r.ROLES))
    who = "public" if route.public else "rôles : " + ", ".join(roles)
    errors = set(COMMON_ERRORS) | set(op.errors)
    if not route.public:
        errors.add(403)
    if path_params:
        errors.add(404)
    success: dict = {"description": op.summary}
    if op.response is not None or op.content_type == "application/json":
        success["content"] = {"application/json": {"schema": _schema_ref(op.response)}}
    else:
        success["content"] = {op.content_type: {"schema": {"type": "string"}}}
    if op.paginated:
        success["headers"] = PAGE_HEADERS
    if op.links:
        success["links"] = {
            f"{target}.{param}": {"operationId": target, "parameters": {param: f"$response.body#/{source}"}}
            for param, (source, targets) in op.links.items()
            for target in targets
        }
    spec: dict = {
        "operationId": route.name,
        "summary": op.summary,
        "description": f"{op.summary} ({who}).",
        "x-roles": roles,
        "security": ([{}, {"bearerAuth": []}] if route.public else [{"bearerAuth": []}]),
        "parameters": list(path_params),
        "responses": {str(op.status): success}
        | {
            str(status): {
                "description": ERROR_TEXT[status],
                "content": {"application/json": {"schema": "Error"}},
            }
            for status in sorted(errors)
        },
    }
    for name, schema in op.query.items():
        spec["parameters"].append({"in": "query", "name": name, "required": False, "schema": schema})
    if op.paginated:
        spec["parameters"] += [
            {
                "in": "query",
                "name": "limit",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": paging.MAX_LIMIT,
                    "default": paging.DEFAULT_LIMIT,
                },
                "description": "Taille de la page.",
            },
            {
                "in": "query",
                "name": "cursor",
                "required": False,
                "schema": {"type": "string"},
                "description": "Jeton `X-Next-Cursor` de la page précédente.",
            },
        ]
    if op.body is not None:
        spec["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": op.body}},
        }
    return spec


def schema_name(schema) -> str:
    """Response bodies keep their name; request schemas (the services') end in `Input`."""
    cls = resolve_schema_cls(schema)
    if cls.__module__ == r.__name__:
        return cls.__name__
    return cls.__name__.removesuffix("Schema") + "Input"


def build_spec() -> dict:
    spec = APISpec(
        title=TITLE,
        version=API_VERSION,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
        info={
            "description": (
                "API publique du label. Authentification : `Authorization: Bearer <jeton>`. "
                "Chaque opération indique les rôles admis (extension `x-roles`). Les erreurs ont la forme "
                '`{"error": {"code", "message", "fields"}}`. Les listes sont paginées : `limit` et '
                "`cursor`, la page suivante dans l'en-tête `X-Next-Cursor`."
            )
        },
        servers=[{"url": "/"}],
    )
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=r.Error)
    paths: dict[str, dict] = {}
    for route in api_routes():
        path, params = _path(route)
        # a route missing from OPERATIONS still gets its path and roles (the unit test asks for the rest)
        operation = OPERATIONS.get(route.name) or Operation(route.name)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, operation, params)
    for path, operations in paths.items():
        for operation in operations.values():
            for response in operation["responses"].values():
                content = response.get("content", {}).get("application/json")
                if content is not None and content["schema"] == "Error":
                    content["schema"] = {"$ref": "#/components/schemas/Error"}
        spec.path(path=path, operations=operations)
    return spec.to_dict()
