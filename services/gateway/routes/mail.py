"""API routes of this area (see ../../shared/API.md); a mixin of GatewayService."""
from services.gateway.http import api  # noqa: F401


class MailRoutes:
    pass
