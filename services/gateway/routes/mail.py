"""API routes of this area (see ../../shared/API.md); a mixin of GatewayService.

Mail (organiser): the notifications service's outbox, read and resend.
"""

from services.gateway.http import api


class MailRoutes:
    @api("GET", "/api/v1/outbox", roles=("organiser",))
    def list_outbox(self, request, principal):
        state = request.args.get("state") or None
        return self.notifications.list_outbox(state)

    @api("GET", "/api/v1/outbox/<string:email_id>", roles=("organiser",))
    def get_outbox_email(self, request, principal, email_id):
        return self.notifications.get_email(email_id)

    @api("POST", "/api/v1/outbox/<string:email_id>/resend", roles=("organiser",))
    def resend_outbox_email(self, request, principal, email_id):
        self.rate_limit(request, f"outbox:{email_id}", trusted=True)
        return 202, self.notifications.resend(email_id, principal.subject)
