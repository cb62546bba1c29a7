"""Organisers and accounts (organiser); a mixin of GatewayService.

POST /api/v1/organisers invites a person (they receive a sign-in link); the
bootstrap token (LABEL_ADMIN_TOKEN) serves to create the first one. An
organiser may end anyone's web sessions and revoke a juror, collectivité or
organiser account.
"""

from services.common.errors import Conflict
from services.common.validation import load
from services.gateway.accounts import Account, AccountExists
from services.gateway.http import api, read_json
from services.gateway.paging import paged
from services.gateway.schemas import AccountRef, OrganiserInvite

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
    def invite_organiser(self, data, by):
        data = load(OrganiserInvite(), data)
        try:
            organiser = self.team().invite(data["name"], data["email"], by)
        except AccountExists as exc:
            raise Conflict(str(exc), "organiser_exists") from None
        account = Account("organiser", organiser["_id"], "Espace des organisateurs")
        self.send_sign_in_links(organiser["_id"], [account], purpose="invite")
        return organiser_view(organiser)

    @api("POST", "/api/v1/organisers", roles=ORGANISER)
    def create_organiser(self, request, principal):
        return 201, self.invite_organiser(read_json(request), principal.subject)

    @api("GET", "/api/v1/organisers", roles=ORGANISER)
    def list_organisers(self, request, principal):
        return paged(request, [organiser_view(doc) for doc in self.team().members()], lambda o: [o["id"]])

    @api("POST", "/api/v1/accounts/end-sessions", roles=ORGANISER)
    def end_account_sessions(self, request, principal):
        ref = load(AccountRef(), read_json(request))
        return {"ended": self.team().end_sessions(ref["role"], ref["subject"])}

    @api("POST", "/api/v1/accounts/revoke", roles=ORGANISER)
    def revoke_account(self, request, principal):
        ref = load(AccountRef(), read_json(request))
        return {
            "revoked": True,
            "sessions_ended": self.team().revoke(ref["role"], ref["subject"], principal.subject),
        }
