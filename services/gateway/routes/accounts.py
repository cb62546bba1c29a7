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
from services.gateway.paging import paged
from services.gateway.repository import TokenFloors, TokenRevocations
from services.gateway.schemas import AccountRef, OrganiserInvite, Reassignment, TokenRef

ORGANISER = ("organiser",)


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
        return paged(request, [organiser_view(doc) for doc in self.team().members()], lambda o: [o["id"]])

    @api("POST", "/api/v1/accounts/end-sessions", roles=ORGANISER)
    def end_account_sessions(self, request, principal):
        ref = load(AccountRef(), read_json(request))
        return {"ended": self.team().end_sessions(ref["role"], ref["subject"])}

    # Holding a token is the right to revoke it (a leaked one, a script retired);
    # an organiser revokes a whole account with /accounts/revoke.
    @api("POST", "/api/v1/tokens/revoke", public=True)
    def revoke_token(self, request, principal):
        text = load(TokenRef(), read_json(request))["token"]
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

    # A code squatted by someone else goes back to the right address: the
    # squatter's sessions and tokens end; the address gets a confirmation link.
    @api("POST", "/api/v1/collectivites/<collectivite_id>/reassign", roles=ORGANISER)
    def reassign_collectivite(self, request, principal, collectivite_id):
        email = load(Reassignment(), read_json(request))["email"]
        self.rate_limit(request, email, trusted=True)
        now = utcnow()
        done = self.submissions.reassign_collectivite(collectivite_id, email)
        # Every token issued until now is refused, from the next millisecond.
        TokenFloors(self.db).raise_to(
            "collectivite", collectivite_id, int(now.timestamp() * 1000) + 1, principal.subject, now
        )
        ended = self.team().end_sessions("collectivite", collectivite_id)
        account = Account(
            "collectivite", collectivite_id, f"Espace de la collectivité (code {collectivite_id})"
        )
        self.send_sign_in_links(done["email"], [account], purpose="confirm")
        return dict(done, sessions_ended=ended)

    @api("POST", "/api/v1/accounts/revoke", roles=ORGANISER)
    def revoke_account(self, request, principal):
        ref = load(AccountRef(), read_json(request))
        return {
            "revoked": True,
            "sessions_ended": self.team().revoke(ref["role"], ref["subject"], principal.subject),
        }
