"""The stylesheets of the web spaces and of the public pages, and the one
small script (the release's live progress); no front-end build step. Files,
not inline: the pages' Content-Security-Policy allows none (server.SECURITY_HEADERS)."""

from pathlib import Path

from werkzeug.wrappers import Response

from services.gateway.server import http

STATIC = Path(__file__).resolve().parents[1] / "static"
STYLESHEET = (STATIC / "site.css").read_text(encoding="utf-8")
PUBLIC_STYLESHEET = (STATIC / "palmares.css").read_text(encoding="utf-8")
PROGRESS_SCRIPT = (STATIC / "progress.js").read_text(encoding="utf-8")


def _static(text, mimetype):
    return Response(text, mimetype=mimetype, headers={"Cache-Control": "public, max-age=3600"})


class StaticFiles:
    @http("GET", "/static/site.css")
    def stylesheet(self, request):
        return _static(STYLESHEET, "text/css")

    @http("GET", "/static/palmares.css")
    def public_stylesheet(self, request):
        return _static(PUBLIC_STYLESHEET, "text/css")

    @http("GET", "/static/progress.js")
    def progress_script(self, request):
        return _static(PROGRESS_SCRIPT, "text/javascript")
