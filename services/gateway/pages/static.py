"""The one stylesheet of the web spaces (no front-end build step)."""

from pathlib import Path

from nameko.web.handlers import http
from werkzeug.wrappers import Response

STYLESHEET = (Path(__file__).resolve().parents[1] / "static" / "site.css").read_text(encoding="utf-8")


class StaticFiles:
    @http("GET", "/static/site.css")
    def stylesheet(self, request):
        return Response(STYLESHEET, mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"})
