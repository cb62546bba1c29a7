"""The gateway's HTTP server: nameko's, with slow clients bounded.

nameko spawns the entrypoint's worker (one of `max_workers`) once the headers
are in, and the handler then reads the body from the socket: ten clients that
send their headers and then trickle a body would hold every worker. Here:

- the body is read before any worker is taken, on the connection's own green
  thread, whole within GATEWAY_BODY_SECONDS (else 408) and capped at
  GATEWAY_MAX_BODY_BYTES (the rest is left to http.py's 413);
- every read of a connection (request line, headers, body, keep-alive) gives
  up after GATEWAY_SOCKET_TIMEOUT_SECONDS of silence;
- at most GATEWAY_MAX_CONNECTIONS are open at once; more are closed at accept;
- every answer of the app carries the security headers (SECURITY_HEADERS) its
  route did not set itself: the API, the pages, the static files, /health, a
  404 or 405 no route answers, a 408 alike (eventlet's own 400, 414 and 500,
  written without the app, do not).

Every route uses `http` from here (two nameko WebServers cannot share a port).
"""

import io
import json
import logging
from functools import partial

import eventlet
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import HttpOnlyProtocol, WebServer, WsgiApp

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Unless a route says otherwise: not kept by any cache (an answer may be
# personal), not framed, not sniffed, no inline script or style.
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
)

TOO_SLOW = json.dumps(
    {"error": {"code": "request_timeout", "message": "La requête est arrivée trop lentement ; réessayez."}},
    ensure_ascii=False,
).encode()


def buffer_body(environ, limit, seconds):
    """Read the request body into memory (at most `limit` + 1 bytes) within
    `seconds`; False when the client was too slow."""
    length = environ.get("CONTENT_LENGTH") or ""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if not chunked and (not length.isdigit() or int(length) == 0 or int(length) > limit):
        return True  # nothing to read, or refused by size before reading (http.py)
    wanted = limit + 1 if chunked else int(length)
    parts, got = [], 0
    try:
        with eventlet.Timeout(seconds):
            while got < wanted:
                part = environ["wsgi.input"].read(min(65536, wanted - got))
                if not part:
                    break
                parts.append(part)
                got += len(part)
    except (eventlet.Timeout, OSError):
        return False
    body = b"".join(parts)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return True


NOT_FOUND = json.dumps(
    {"error": {"code": "not_found", "message": "Aucune ressource de l'API à cette adresse."}},
    ensure_ascii=False,
).encode()


def _json_api_not_found(environ, start_response):
    """werkzeug's HTML 404 for an API address no rule matches, even the
    catch-all of routes/operations.py (`<path:…>` stops at a newline), becomes
    the JSON error of API.md."""
    if not environ.get("PATH_INFO", "").startswith("/api/"):
        return start_response

    def respond(status, headers, exc_info=None):
        if status.startswith("404") and dict(headers).get("Content-Type", "").startswith("text/html"):
            environ["lvi.not_found"] = True
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(NOT_FOUND)))]
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    return respond


def secured(headers):
    """`headers` (WSGI's list of pairs) with each security header it lacks."""
    present = {name.lower() for name, _ in headers}
    return list(headers) + [(name, value) for name, value in SECURITY_HEADERS if name.lower() not in present]


def _with_security_headers(start_response):
    def respond(status, headers, exc_info=None):
        return start_response(status, secured(headers), exc_info)

    return respond


class GuardedWsgiApp(WsgiApp):
    def __call__(self, environ, start_response):
        start_response = _with_security_headers(start_response)
        config = self.server.container.config
        limit = int(config["GATEWAY_MAX_BODY_BYTES"])
        if not buffer_body(environ, limit, float(config["GATEWAY_BODY_SECONDS"])):
            start_response(
                "408 Request Timeout",
                [
                    ("Content-Type", "application/json"),
                    ("Connection", "close"),
                    ("Content-Length", str(len(TOO_SLOW))),
                ],
            )
            return [TOO_SLOW]
        body = super().__call__(environ, _json_api_not_found(environ, start_response))
        if environ.get("lvi.not_found"):
            return [NOT_FOUND]
        return body


class GuardedWebServer(WebServer):
    def __init__(self):
        super().__init__()
        self._open = 0

    def get_wsgi_app(self):
        return GuardedWsgiApp(self)

    def get_wsgi_server(self, sock, wsgi_app, protocol=HttpOnlyProtocol, debug=False):
        server = super().get_wsgi_server(sock, wsgi_app, protocol=protocol, debug=debug)
        server.socket_timeout = float(self.container.config["GATEWAY_SOCKET_TIMEOUT_SECONDS"])
        return server

    def run(self):
        most = int(self.container.config["GATEWAY_MAX_CONNECTIONS"])
        while self._is_accepting:
            sock, addr = self._sock.accept()
            if self._open >= most:
                sock.close()  # full: the client retries later; the ones being served are not slowed
                continue
            sock.settimeout(self._serv.socket_timeout)
            self._open += 1
            self.container.spawn_managed_thread(partial(self._serve, sock, addr))

    def _serve(self, sock, addr):
        try:
            self.process_request(sock, addr)
        finally:
            self._open -= 1


class GuardedHttpRequestHandler(HttpRequestHandler):
    server = GuardedWebServer()


http = GuardedHttpRequestHandler.decorator
