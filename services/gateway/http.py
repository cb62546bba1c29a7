"""The HTTP conventions of API.md in one place: bearer auth, JSON bodies, and
the error format `{"error": {"code", "message", "fields"}}`.

Route handlers are `def handler(self, request, principal, **url_params)` and
return a JSON-serialisable body (200), a `(status, body)` pair, or a werkzeug
Response. They raise the domain errors of services.common.errors (locally or
from an RPC call): ValidationFailed → 422, NotFound → 404, Conflict → 409,
Forbidden → 403.

Resource limits: a body above GATEWAY_MAX_BODY_BYTES (default 1 MiB) gets 413
`payload_too_large` before it is read (Content-Length), and reading is capped
there (a chunked body that grows past it gets the same 413); a JSON body nested
deeper than MAX_JSON_DEPTH gets 400 `malformed_json`, never a 500.
"""

import functools
import hmac
import json
import logging
from typing import NamedTuple

import eventlet
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.common import tokens
from services.common.clock import utcnow
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.gateway import public_cache
from services.gateway.accounts import BOOTSTRAP_SUBJECT, PERSONAL_TOKEN_PREFIX
from services.gateway.ratelimit import RateLimited
from services.gateway.server import http

log = logging.getLogger(__name__)

# nameko's RpcProxy waits forever for a reply; a service that died mid-call
# (its request is redelivered once it is back) must not hold the client too.
DEFAULT_REQUEST_TIMEOUT_SECONDS = 30
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Our payloads nest 4 levels at most; anything much deeper is an attack (RecursionError).
MAX_JSON_DEPTH = 32


class ApiError(Exception):
    def __init__(self, status, code, message, fields=None, retry_after=None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields
        self.retry_after = retry_after  # seconds, for a 503


def unauthorized():
    return ApiError(401, "unauthorized", "Jeton d'accès manquant ou invalide.")


def token_expired():
    return ApiError(
        401,
        "token_expired",
        "Ce jeton d'accès a expiré : demandez-en un nouveau (connexion par lien depuis votre espace).",
    )


def forbidden(message="Vous n'avez pas accès à cette ressource."):
    return ApiError(403, "forbidden", message)


def json_text(body):
    return json.dumps(body, ensure_ascii=False, default=str)


def json_response(body, status=200, headers=None):
    return Response(json_text(body), status=status, headers=headers, mimetype="application/json")


def body_response(request, body, mimetype, status=200, headers=None):
    """An answer as public_cache.Body: as its gzip when it has one and the
    client accepts gzip (Accept-Encoding; Vary says so to caches). One kept
    for every visitor (it has an ETag) may be kept by any cache as long as
    the gateway keeps it, and a client holding it gets 304 with no body."""
    gzipped = body.gzipped is not None and request.accept_encodings["gzip"] > 0
    response = Response(
        body.gzipped if gzipped else body.raw, status=status, mimetype=mimetype, headers=headers
    )
    response.vary.add("Accept-Encoding")
    if gzipped:
        response.content_encoding = "gzip"
    if body.etag is not None:
        response.set_etag(f"{body.etag}-gzip" if gzipped else body.etag)
        response.headers["Cache-Control"] = f"public, max-age={int(public_cache.SECONDS)}"
        response.make_conditional(request)
    return response


def error_response(status, code, message, fields=None):
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return json_response({"error": error}, status)


def payload_too_large(limit):
    return ApiError(
        413,
        "payload_too_large",
        f"Le corps de la requête dépasse la taille maximale autorisée ({limit} octets).",
    )


def max_body_bytes(config):
    return int(config.get("GATEWAY_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)


def limit_body(request, limit):
    """413 now when Content-Length says the body is too big; otherwise cap every
    later read of it at `limit` bytes (werkzeug raises RequestEntityTooLarge)."""
    request.max_content_length = limit
    if request.content_length is not None and request.content_length > limit:
        raise payload_too_large(limit)


def json_depth(value):
    """How deeply `value` nests lists and objects (iterative: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            stack.extend((child, depth + 1) for child in item)
    return deepest


def read_json(request):
    """The request body as a JSON object (dict), or a 400."""
    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw.decode("utf-8") if raw else "")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "malformed_json", "Le corps de la requête n'est pas un JSON valide.") from None
    if json_depth(body) > MAX_JSON_DEPTH:
        raise ApiError(
            400,
            "malformed_json",
            f"Le corps de la requête est imbriqué trop profondément (au plus {MAX_JSON_DEPTH} niveaux).",
        )
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "validation_failed",
            "Un objet JSON est attendu.",
            {"_schema": ["Un objet JSON est attendu."]},
        )
    return body


def authenticate(config, request, personal=None, now=None):
    """The Principal behind the request's bearer token, None when it carries none.
    `personal(token)`: (role, subject) of an organiser's personal token, or None."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    admin = config.get("LABEL_ADMIN_TOKEN")
    if admin and hmac.compare_digest(token.encode(), str(admin).encode()):
        return tokens.Principal("organiser", BOOTSTRAP_SUBJECT)
    if token.startswith(PERSONAL_TOKEN_PREFIX) and personal is not None:
        found = personal(token)
        if found is None:
            raise unauthorized()
        return tokens.Principal(*found)
    try:
        principal = tokens.verify(config["LABEL_SECRET_KEY"], token, now or utcnow())
    except tokens.TokenExpired:
        raise token_expired() from None
    if principal is None:
        raise unauthorized()
    return principal


class AccessRules:
    """What @api asks the service about accounts: an organiser's personal token,
    a revoked account, the bootstrap token's scope. These defaults know no
    account; GatewayService answers from its database (app.py)."""

    def personal_token(self, token):
        return None

    def is_revoked(self, principal):
        return False

    def check_bootstrap(self, method, path):
        return None

    def rate_limit(self, request, recipient, trusted=False):
        return None

    def signed_up(self, created):
        return created


def _to_response(result):
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        status, body = result
        return json_response(body, status)
    return json_response(result)


class Route(NamedTuple):
    method: str
    path: str
    roles: tuple | None
    public: bool
    name: str


# Every @api route, as declared: the OpenAPI spec (openapi.py) is built from it.
ROUTES: list[Route] = []


def api(method, path, roles=None, public=False):
    """Declare an API route. `roles`: the roles allowed (None: any signed-in
    role); `public=True`: no token needed (the principal may still be given)."""

    def decorator(fn):
        ROUTES.append(Route(method, path, tuple(roles) if roles else None, public, fn.__name__))

        def answer(self, request, **params):
            try:
                limit_body(request, max_body_bytes(self.config))
                principal = authenticate(self.config, request, self.personal_token)
                if principal is not None and self.is_revoked(principal):
                    raise unauthorized()
                if principal is not None and principal.subject == BOOTSTRAP_SUBJECT:
                    self.check_bootstrap(method, path)
                if not public:
                    if principal is None:
                        raise unauthorized()
                    if roles and principal.role not in roles:
                        raise forbidden()
                timeout = float(self.config.get("GATEWAY_REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT_SECONDS))
                with eventlet.Timeout(
                    timeout,
                    ApiError(
                        504,
                        "service_timeout",
                        "Le service n'a pas répondu à temps ; réessayez dans un instant.",
                    ),
                ):
                    return _to_response(fn(self, request, principal, **params))
            except ApiError as exc:
                response = error_response(exc.status, exc.code, exc.message, exc.fields)
                if exc.retry_after is not None:
                    response.headers["Retry-After"] = str(exc.retry_after)
                return response
            except RateLimited as exc:
                response = error_response(429, "rate_limited", exc.message)
                response.headers["Retry-After"] = str(exc.retry_after)
                return response
            except RequestEntityTooLarge:  # the capped read went past the limit
                exc = payload_too_large(max_body_bytes(self.config))
                return error_response(exc.status, exc.code, exc.message)
            except ValidationFailed as exc:
                return error_response(422, exc.code, exc.message, exc.fields)
            except NotFound as exc:
                return error_response(404, exc.code, exc.message or "Introuvable.")
            except Conflict as exc:
                return error_response(409, exc.code, exc.message)
            except Forbidden as exc:
                return error_response(403, exc.code, exc.message or "Accès refusé.")
            except Exception:
                log.exception("%s %s failed", method, path)
                return error_response(500, "internal_error", "Erreur interne ; réessayez plus tard.")

        return http(method, path)(functools.wraps(fn)(answer))

    return decorator
