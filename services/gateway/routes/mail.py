"""API routes of this area (see ../../shared/API.md); a mixin of GatewayService.

Mail (organiser): the notifications service's outbox, read and resend.
"""

from datetime import datetime

from services.gateway.http import api
from services.gateway.paging import bad_cursor, page_args, page_response


def _outbox_key(key):
    """A cursor of this list: [created_at with its zone, email id]."""
    if len(key) != 2 or not all(isinstance(part, str) for part in key) or not 0 < len(key[1]) <= 64:
        return False
    try:
        return datetime.fromisoformat(key[0]).tzinfo is not None
    except ValueError:
        return False


class MailRoutes:
    @api("GET", "/api/v1/outbox", roles=("organiser",))
    def list_outbox(self, request, principal):
        state = request.args.get("state") or None
        limit, after = page_args(request)
        if after is not None and not _outbox_key(after):
            raise bad_cursor()
        rows = self.notifications.list_outbox(state, limit + 1, after)  # one more: is there a next page?
        more = len(rows) > limit
        rows = rows[:limit]
        return page_response(rows, [rows[-1]["created_at"], rows[-1]["id"]] if more else None)

    @api("GET", "/api/v1/outbox/<string:email_id>", roles=("organiser",))
    def get_outbox_email(self, request, principal, email_id):
        return self.notifications.get_email(email_id)

    @api("POST", "/api/v1/outbox/<string:email_id>/resend", roles=("organiser",))
    def resend_outbox_email(self, request, principal, email_id):
        self.rate_limit(request, f"outbox:{email_id}", trusted=True)
        return 202, self.notifications.resend(email_id, principal.subject)
