"""GatewayService: the one public HTTP entry (API.md) and the web pages.

It calls the services by RPC and never touches their databases; its own
database holds what the gateway owns (DESIGN.md): sign-in links and web
sessions. Each API area is a mixin in routes/, each web space one in pages/;
this class only gathers them and their dependencies.
"""

import eventlet
from nameko.dependency_providers import Config
from nameko.rpc import RpcProxy
from nameko.timer import timer

from services.common import tokens
from services.common.clock import utcnow
from services.common.contracts import GATEWAY, SERVICES
from services.common.mongo import MongoDatabase
from services.common.startup import StartupChecks, is_local_mode
from services.gateway.accounts import SignIn, Team, bootstrap_allows
from services.gateway.http import AccessRules, forbidden, json_response
from services.gateway.pages.collectivite import CollectivitePages
from services.gateway.pages.connexion import SignInPages
from services.gateway.pages.jure import JurorPages
from services.gateway.pages.organisation import OrganiserPages
from services.gateway.pages.prediagnostic import PrediagnosticPages
from services.gateway.pages.static import StaticFiles
from services.gateway.ratelimit import Limits, RateLimiter
from services.gateway.repository import (
    ApiTokens,
    Organisers,
    RateSlots,
    Replays,
    Revocations,
    Sessions,
    SignInLinks,
    TokenFloors,
    TokenRevocations,
    ensure_indexes,
)
from services.gateway.routes.accounts import AccountRoutes
from services.gateway.routes.awards import AwardsRoutes
from services.gateway.routes.barometre import BarometreRoutes
from services.gateway.routes.jury import JuryRoutes
from services.gateway.routes.mail import MailRoutes
from services.gateway.routes.operations import OperationsRoutes
from services.gateway.routes.submissions import SubmissionsRoutes
from services.gateway.server import http

HEALTH_TIMEOUT_SECONDS = 3
RATE_SLOTS_PURGE_SECONDS = 600


class GatewayService(
    SubmissionsRoutes,
    JuryRoutes,
    AwardsRoutes,
    BarometreRoutes,
    MailRoutes,
    OperationsRoutes,
    AccountRoutes,
    SignInPages,
    CollectivitePages,
    JurorPages,
    OrganiserPages,
    PrediagnosticPages,
    StaticFiles,
    AccessRules,
):
    name = GATEWAY

    config = Config()
    db = MongoDatabase(GATEWAY, ensure_indexes=ensure_indexes)
    startup = StartupChecks()  # no default or short secret outside local mode
    submissions = RpcProxy("submissions")
    jury = RpcProxy("jury")
    awards = RpcProxy("awards")
    notifications = RpcProxy("notifications")

    def sign_in(self):
        return SignIn(SignInLinks(self.db), Sessions(self.db), str(self.config["LABEL_SECRET_KEY"]), utcnow())

    def team(self):
        return Team(
            Organisers(self.db), Revocations(self.db), Sessions(self.db), utcnow(), ApiTokens(self.db)
        )

    def personal_token(self, token):
        return self.team().principal_of(token)

    def check_bootstrap(self, method, path):
        if not bootstrap_allows(method, path, self.team().has_organisers(), is_local_mode(self.config)):
            raise forbidden(
                "Le jeton d'amorçage ne sert qu'à créer le premier organisateur ; "
                "utilisez votre jeton personnel (console des organisateurs, « Mes jetons d'API »)."
            )

    def rate_limit(self, request, recipient, trusted=False):
        """Before a request sends mail: RateLimited (429) past the configured limits."""
        limiter = RateLimiter(RateSlots(self.db), Limits.from_config(self.config), utcnow())
        limiter.check(request.remote_addr, recipient if isinstance(recipient, str) else None, trusted)

    def signed_up(self, created):
        """After a sign-up that took over a lapsed one's code: the former
        holder's tokens (issued before this one) open nothing."""
        if created.get("replaced"):
            principal = tokens.verify(str(self.config["LABEL_SECRET_KEY"]), created["token"], utcnow())
            floor = principal.issued_ms if principal is not None else int(utcnow().timestamp() * 1000)
            TokenFloors(self.db).raise_to("collectivite", created["id"], floor, "sign_up", utcnow())
            self.team().end_sessions("collectivite", created["id"])
        created.pop("replaced", None)
        return created

    @timer(interval=RATE_SLOTS_PURGE_SECONDS)
    def purge_rate_slots(self):
        RateSlots(self.db).purge(utcnow())

    def record_replay(self, by, count):
        Replays(self.db).record(by, utcnow(), count)

    def is_revoked(self, principal):
        """A token revoked by its id, or any of a revoked account (the bootstrap token
        excepted), opens nothing."""
        if principal.token_id is not None:
            if TokenRevocations(self.db).is_revoked(principal.token_id):
                return True
            if TokenFloors(self.db).refuses(principal.role, principal.subject, principal.issued_ms):
                return True
        return principal.subject != "admin" and self.team().is_revoked(principal.role, principal.subject)

    @http("GET", "/health")
    def health(self, request):
        replies = {name: getattr(self, name).health.call_async() for name in SERVICES}
        services = {}
        for name, reply in replies.items():
            try:
                with eventlet.Timeout(HEALTH_TIMEOUT_SECONDS):
                    services[name] = reply.result().get("status", "ok")
            except (Exception, eventlet.Timeout):
                services[name] = "unavailable"
        healthy = all(state == "ok" for state in services.values())
        return json_response(
            {"status": "ok" if healthy else "degraded", "services": services}, 200 if healthy else 503
        )
