"""The collectivité's pré-diagnostic (/collectivite/prediagnostic); a mixin of
GatewayService. The submissions service compares; this page shows."""

from services.common.errors import NotFound
from services.gateway.web import page, render

COLLECTIVITE = ("collectivite",)


class PrediagnosticPages:
    @page("GET", "/collectivite/prediagnostic", roles=COLLECTIVITE)
    def prediagnostic_page(self, request, visitor):
        principal = visitor.principal
        try:
            result = self.submissions.prediagnostic(principal.subject, principal.role, principal.subject)
        except NotFound as exc:
            # No application or no baromètre yet: say so on the page, not as an error.
            return render("collectivite_prediagnostic.html", visitor, result=None, message=exc.message)
        return render("collectivite_prediagnostic.html", visitor, result=result, message=None)
