"""The web pages' conventions in one place (the API's are in http.py): the
session cookie, CSRF on every form, role checks, French error pages.

Page handlers are `def handler(self, request, visitor, **url_params)` and
return a werkzeug Response (`render(...)` or `redirect(...)`). Domain errors
a handler does not catch itself become a page: NotFound → 404, Forbidden →
403, Conflict → 409 (its French message), ValidationFailed → 422.
"""

import functools
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import eventlet
from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from services.common import placenames, tokens
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.french import CATEGORY_LABELS, CATEGORY_PLURALS, french_date, french_score
from services.gateway.accounts import ROLE_HOMES, csrf_ok, csrf_token
from services.gateway.http import (
    DEFAULT_REQUEST_TIMEOUT_SECONDS,
    ApiError,
    limit_body,
    max_body_bytes,
)
from services.gateway.ratelimit import RateLimited
from services.gateway.server import http

log = logging.getLogger(__name__)

SESSION_COOKIE = "lvi_session"
CSRF_COOKIE = "lvi_csrf"
CSRF_FIELD = "csrf_token"
SIGN_IN_PATH = "/connexion"

ROLE_NAMES = {"collectivite": "collectivité", "juror": "juré", "organiser": "organisateur"}

# Messages shown after a redirect (`?message=<code>`): never text from the URL itself.
MESSAGES = {
    "draft_saved": "Votre brouillon est enregistré. Vous pouvez y revenir à tout moment.",
    "submitted": "Votre candidature est déposée. Un accusé de réception vous est envoyé par courriel.",
    "withdrawn": "Votre candidature est retirée.",
    "signed_in": "Vous êtes connecté(e).",
    "signed_out": "Vous êtes déconnecté(e). À bientôt !",
    "review_saved": "Votre avis est enregistré. Merci !",
    "task_released": "Le dossier est rendu : un autre juré pourra le prendre.",
    "conflict_declared": "C'est noté : ce dossier est rendu, et vous n'examinerez plus cette collectivité.",
    "no_task": "Aucun dossier n'est disponible pour vous dans cette campagne pour le moment.",
    "campaign_created": "La campagne est créée ; les collectivités peuvent candidater dès son ouverture.",
    "juror_invited": "Le juré est inscrit : il reçoit un courriel de bienvenue avec le lien de son espace.",
    "organiser_invited": "L'invitation est envoyée : l'organisateur reçoit un lien de connexion.",
    "sessions_ended": "Les sessions de cette personne sont fermées.",
    "account_revoked": "Le compte est révoqué : ses jetons et ses liens n'ouvrent plus rien.",
    "decision_saved": "La décision est enregistrée, à votre nom.",
    "comment_saved": "Le commentaire est modéré ; la collectivité le lira tel quel après la publication.",
    "released": "Le palmarès est publié : les courriels de résultat partent.",
    "release_requested": "La publication est en cours : le palmarès sera public dans quelques instants.",
    "email_resent": "Le courriel est remis dans la file d'envoi.",
    "replayed": "Les lettres mortes sont renvoyées à leur destinataire.",
    "token_revoked": "Le jeton est révoqué : il n'ouvre plus rien.",
}

pages = Environment(
    loader=FileSystemLoader(str(Path(__file__).resolve().parent / "templates" / "web")),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
pages.filters["french_date"] = lambda text: french_date(text, with_time=False) if text else ""
pages.filters["french_datetime"] = lambda text: french_date(text) if text else ""
pages.globals.update(
    category_labels=CATEGORY_LABELS,
    category_plurals=CATEGORY_PLURALS,
    role_names=ROLE_NAMES,
    csrf_field=CSRF_FIELD,
)
pages.filters.update(de=placenames.de, a=placenames.a, score=french_score)


@dataclass
class Visitor:
    """Who is looking at the page: a session (or None), and the CSRF token
    that this page's forms must send back."""

    session: dict | None
    csrf: str
    message: str | None = None

    @property
    def role(self) -> str | None:
        return self.session["role"] if self.session else None

    @property
    def principal(self) -> tokens.Principal:
        assert self.session is not None
        return tokens.Principal(self.session["role"], self.session["subject"])

    @property
    def home(self) -> str:
        return ROLE_HOMES.get(self.role or "", "/")


class PageError(Exception):
    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def render(template, visitor, status=200, **context):
    body = pages.get_template(template).render(visitor=visitor, **context)
    return Response(body, status=status, mimetype="text/html")


def redirect(location, message=None):
    if message:
        location += ("&" if "?" in location else "?") + urlencode({"message": message})
    return Response("", status=303, headers={"Location": location})


def error_page(visitor, status, title, message):
    return render("error.html", visitor, status=status, title=title, message=message)


def _secure(config) -> bool:
    return str(config.get("PUBLIC_BASE_URL") or "").startswith("https://")


def set_cookie(response, config, name, value, max_age=None):
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="Lax", secure=_secure(config)
    )


def page(method, path, roles=None):
    """Declare a web page. `roles`: who may see it (None: anyone); a visitor
    without a session is sent to the sign-in page, one of another role gets 403.
    Every POST must carry the form's CSRF token."""

    def decorator(fn):
        @functools.wraps(fn)
        def entry(self, request, **params):
            config = self.config
            secret = str(config["LABEL_SECRET_KEY"])
            csrf_cookie = request.cookies.get(CSRF_COOKIE)
            new_csrf_cookie = None
            if not csrf_cookie:
                csrf_cookie = new_csrf_cookie = secrets.token_urlsafe(24)
            session_token = request.cookies.get(SESSION_COOKIE)
            message = MESSAGES.get(request.args.get("message", ""))
            visitor = Visitor(None, "", message)
            try:
                session = self.sign_in().session(session_token)
                if session is None:
                    session_token = None
                visitor = Visitor(session, csrf_token(secret, csrf_cookie, session_token), message)
                response = _guarded(self, fn, request, visitor, method, roles, params, secret, csrf_cookie)
            except PageError as exc:
                response = error_page(visitor, exc.status, exc.title, exc.message)
            except RateLimited as exc:
                response = error_page(visitor, 429, "Trop de demandes", exc.message)
                response.headers["Retry-After"] = str(exc.retry_after)
            except RequestEntityTooLarge:  # a body that grew past the limit while read
                response = error_page(
                    visitor, 413, "Formulaire trop volumineux", "Ce formulaire dépasse la taille autorisée."
                )
            except Exception:
                log.exception("%s %s failed", method, path)
                response = error_page(
                    visitor,
                    500,
                    "Erreur interne",
                    "Une erreur inattendue s'est produite ; réessayez dans un instant.",
                )
            if new_csrf_cookie:
                set_cookie(response, config, CSRF_COOKIE, new_csrf_cookie)
            return response

        return http(method, path)(entry)

    return decorator


def _guarded(self, fn, request, visitor, method, roles, params, secret, csrf_cookie):
    try:  # the API's body limit: a form above it is refused before it is read
        limit_body(request, max_body_bytes(self.config))
    except ApiError:
        raise PageError(
            413, "Formulaire trop volumineux", "Ce formulaire dépasse la taille autorisée."
        ) from None
    if method == "POST":
        session_token = request.cookies.get(SESSION_COOKIE) if visitor.session else None
        if not csrf_ok(secret, request.cookies.get(CSRF_COOKIE), session_token, request.form.get(CSRF_FIELD)):
            raise PageError(
                403,
                "Formulaire expiré",
                "Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page, puis recommencez.",
            )
    if roles is not None:
        if visitor.session is None:
            if method == "GET":
                return redirect(f"{SIGN_IN_PATH}?{urlencode({'suite': request.full_path.rstrip('?')})}")
            return redirect(SIGN_IN_PATH)
        if visitor.role not in roles:
            raise PageError(
                403,
                "Accès refusé",
                f"Cette page n'est pas ouverte à votre espace ({ROLE_NAMES[visitor.role]}).",
            )
    timeout = float(self.config.get("GATEWAY_REQUEST_TIMEOUT") or DEFAULT_REQUEST_TIMEOUT_SECONDS)
    try:
        with eventlet.Timeout(
            timeout,
            PageError(504, "Service indisponible", "Le service n'a pas répondu à temps ; réessayez."),
        ):
            return fn(self, request, visitor, **params)
    except NotFound as exc:
        raise PageError(404, "Page introuvable", exc.message or "Cette page n'existe pas.") from None
    except Forbidden as exc:
        raise PageError(403, "Accès refusé", exc.message or "Vous n'avez pas accès à cette page.") from None
    except Conflict as exc:
        raise PageError(409, "Action impossible", exc.message) from None
    except ValidationFailed as exc:
        raise PageError(422, "Données refusées", exc.message) from None
