"""API routes of this area (see ../../shared/API.md); a mixin of GatewayService.

Campaigns, collectivité sign-up and applications; the submissions service
decides (validation, ownership, states), these handlers only translate.
"""

from services.gateway.accounts import Account
from services.gateway.http import api, read_json
from services.gateway.paging import id_page_args, id_page_response, paged

ORGANISER = ("organiser",)
COLLECTIVITE = ("collectivite",)
APPLICANT_OR_ORGANISER = ("collectivite", "organiser")


class SubmissionsRoutes:
    # -- campaigns -----------------------------------------------------------

    @api("POST", "/api/v1/campaigns", roles=ORGANISER)
    def create_campaign(self, request, principal):
        return 201, self.submissions.create_campaign(read_json(request))

    # Public: a collectivité reads the campaign and its grid before it signs up.
    @api("GET", "/api/v1/campaigns", public=True)
    def list_campaigns(self, request, principal):
        return paged(request, self.submissions.list_campaigns(), lambda c: [c["year"]], descending=True)

    @api("GET", "/api/v1/campaigns/<year>", public=True)
    def get_campaign(self, request, principal, year):
        return self.submissions.get_campaign(year)

    @api("GET", "/api/v1/campaigns/<year>/applications", roles=APPLICANT_OR_ORGANISER)
    def list_applications(self, request, principal, year):
        limit, after = id_page_args(request)
        state = request.args.get("state") or None
        rows = self.submissions.list_applications(
            year, principal.role, principal.subject, state, after, limit + 1
        )
        return id_page_response(rows, limit)

    # -- collectivités -------------------------------------------------------

    @api("POST", "/api/v1/collectivites", public=True)
    def register_collectivite(self, request, principal):
        data = read_json(request)
        # An organiser's (labelctl import, the demo) is trusted: confirmed at once, no limit.
        trusted = principal is not None and principal.role == "organiser"
        if not trusted:
            self.rate_limit(request, data.get("email"))
        created = self.signed_up(self.submissions.register_collectivite(data, trusted))
        if not trusted:  # the same confirmation link as the web sign-up's; nothing else is sent
            account = Account(
                "collectivite", created["id"], f"Espace de la collectivité (code {created['id']})"
            )
            self.send_sign_in_links(data["email"].strip(), [account], purpose="confirm")
        return 201, created

    @api("GET", "/api/v1/collectivites/<collectivite_id>", roles=APPLICANT_OR_ORGANISER)
    def get_collectivite(self, request, principal, collectivite_id):
        return self.submissions.get_collectivite(collectivite_id, principal.role, principal.subject)

    # -- applications --------------------------------------------------------

    @api("POST", "/api/v1/applications", roles=COLLECTIVITE)
    def create_application(self, request, principal):
        return 201, self.submissions.create_application(principal.subject, read_json(request))

    @api("GET", "/api/v1/applications/<application_id>", roles=APPLICANT_OR_ORGANISER)
    def get_application(self, request, principal, application_id):
        return self.submissions.get_application(application_id, principal.role, principal.subject)

    @api("PATCH", "/api/v1/applications/<application_id>", roles=APPLICANT_OR_ORGANISER)
    def update_application(self, request, principal, application_id):
        body = read_json(request)
        return self.submissions.update_application(application_id, principal.role, principal.subject, body)

    @api("POST", "/api/v1/applications/<application_id>/submit", roles=APPLICANT_OR_ORGANISER)
    def submit_application(self, request, principal, application_id):
        return self.submissions.submit_application(application_id, principal.role, principal.subject)

    @api("POST", "/api/v1/applications/<application_id>/withdraw", roles=APPLICANT_OR_ORGANISER)
    def withdraw_application(self, request, principal, application_id):
        return self.submissions.withdraw_application(application_id, principal.role, principal.subject)
