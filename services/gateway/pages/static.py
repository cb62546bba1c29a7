"""The stylesheet of the web spaces and the one small script (the release's
live progress); no front-end build step."""

from pathlib import Path

from werkzeug.wrappers import Response

from services.gateway.server import http

STATIC = Path(__file__).resolve().parents[1] / "static"
STYLESHEET = (STATIC / "site.css").read_text(encoding="utf-8")
PROGRESS_SCRIPT = (STATIC / "progress.js").read_text(encoding="utf-8")


class StaticFiles:
    @http("GET", "/static/site.css")
    def stylesheet(self, request):
        return Response(STYLESHEET, mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"})

    @http("GET", "/static/progress.js")
    def progress_script(self, request):
        return Response(
            PROGRESS_SCRIPT, mimetype="text/javascript", headers={"Cache-Control": "public, max-age=3600"}
        )
