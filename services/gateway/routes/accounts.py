"""Organisers and accounts (organiser); a mixin of GatewayService.

POST /api/v1/organisers invites a person (they receive a sign-in link); the
bootstrap token (LABEL_ADMIN_TOKEN) serves to create the first one. An
organiser may end anyone's web sessions and revoke a juror, collectivité or
organiser account.
"""

from services.common import tokens
from services.common.clock import utcnow
from services.common.errors import Conflict, ValidationFailed
from services.common.validation import load
from services.gateway.accounts import Account, AccountExists
from services.gateway.http import api, read_json
from services.gateway.repository import TokenRevocations
from services.gateway.schemas import AccountRef, OrganiserInvite

ORGANISER = ("organiser",)
MAX_TOKEN_LENGTH = 1000


def organiser_view(doc):
    return {
        "id": doc["_id"],
        "name": doc["name"],
        "email": doc["_id"],
        "invited_by": doc.get("invited_by"),
        "revoked": doc.get("revoked", False),
    }


class AccountRoutes:
    def invite_organiser(self, request, data, by):
        data = load(OrganiserInvite(), data)
        self.rate_limit(request, data["email"], trusted=True)
        try:
            organiser = self.team().invite(data["name"], data["email"], by)
        except AccountExists as exc:
            raise Conflict(str(exc), "organiser_exists") from None
        account = Account("organiser", organiser["_id"], "Espace des organisateurs")
        self.send_sign_in_links(organiser["_id"], [account], purpose="invite")
        return organiser_view(organiser)

    @api("POST", "/api/v1/organisers", roles=ORGANISER)
    def create_organiser(self, request, principal):
        return 201, self.invite_organiser(request, read_json(request), principal.subject)

    @api("GET", "/api/v1/organisers", roles=ORGANISER)
    def list_organisers(self, request, principal):
        return [organiser_view(doc) for doc in self.team().members()]

    @api("POST", "/api/v1/accounts/end-sessions", roles=ORGANISER)
    def end_account_sessions(self, request, principal):
        ref = load(AccountRef(), read_json(request))
        return {"ended": self.team().end_sessions(ref["role"], ref["subject"])}

    # Holding a token is the right to revoke it (a leaked one, a script retired);
    # an organiser revokes a whole account with /accounts/revoke.
    @api("POST", "/api/v1/tokens/revoke", public=True)
    def revoke_token(self, request, principal):
        text = read_json(request).get("token")
        found = None
        if isinstance(text, str) and len(text) <= MAX_TOKEN_LENGTH:
            try:
                found = tokens.verify(str(self.config["LABEL_SECRET_KEY"]), text, utcnow())
            except tokens.TokenExpired:
                return {"revoked": True, "expired": True}  # opens nothing already
        if found is None or found.token_id is None:
            raise ValidationFailed(
                {"token": ["Jeton inconnu : ce n'est pas un jeton d'accès émis par ce site."]},
                "Jeton inconnu.",
            )
        by = principal.subject if principal is not None else f"{found.role}:{found.subject}"
        TokenRevocations(self.db).revoke(
            found.token_id, found.role, found.subject, by, utcnow(), found.expires_at
        )
        return {"revoked": True, "id": found.token_id}

    @api("POST", "/api/v1/accounts/revoke", roles=ORGANISER)
    def revoke_account(self, request, principal):
        ref = load(AccountRef(), read_json(request))
        return {
            "revoked": True,
            "sessions_ended": self.team().revoke(ref["role"], ref["subject"], principal.subject),
        }
