import gzip
import io
import json
from datetime import timedelta

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common import tokens
from services.common.clock import utcnow
from services.gateway.http import AccessRules, ApiError, authenticate, body_response, read_json
from services.gateway.public_cache import Body, compressed
from services.gateway.server import secured

CONFIG = {"LABEL_ADMIN_TOKEN": "admin-token", "LABEL_SECRET_KEY": "secret"}


def request(headers=None, data=None):
    return Request(EnvironBuilder(method="POST", headers=headers or {}, data=data).get_environ())


def test_no_header_is_anonymous():
    assert authenticate(CONFIG, request()) is None


def test_admin_token_is_an_organiser():
    principal = authenticate(CONFIG, request({"Authorization": "Bearer admin-token"}))
    assert principal == tokens.Principal("organiser", "admin")


def test_signed_token_names_its_role_and_subject():
    token = tokens.issue("secret", "juror", "j-7", utcnow(), timedelta(days=1))
    principal = authenticate(CONFIG, request({"Authorization": f"Bearer {token}"}))
    assert (principal.role, principal.subject) == ("juror", "j-7") and principal.token_id


def test_an_expired_token_is_401_token_expired_in_french():
    issued = utcnow() - timedelta(days=91)
    token = tokens.issue("secret", "juror", "j-7", issued, timedelta(days=90))
    with pytest.raises(ApiError) as caught:
        authenticate(CONFIG, request({"Authorization": f"Bearer {token}"}))
    assert (caught.value.status, caught.value.code) == (401, "token_expired")
    assert "a expiré" in caught.value.message


@pytest.mark.parametrize("header", ["Bearer nope", "Basic abc", "Bearer ", "token"])
def test_bad_tokens_are_401(header):
    with pytest.raises(ApiError) as caught:
        authenticate(CONFIG, request({"Authorization": header}))
    assert caught.value.status == 401


def test_malformed_json_is_400_and_a_list_is_422():
    with pytest.raises(ApiError) as caught:
        read_json(request(data=b"{not json"))
    assert (caught.value.status, caught.value.code) == (400, "malformed_json")
    with pytest.raises(ApiError) as caught:
        read_json(request(data=json.dumps([1]).encode()))
    assert caught.value.status == 422
    assert read_json(request(data=b'{"a": 1}')) == {"a": 1}


def test_a_service_that_never_answers_gives_a_504_not_a_hang():
    import eventlet

    from services.gateway.http import api

    class Slow(AccessRules):
        config = dict(CONFIG, GATEWAY_REQUEST_TIMEOUT=0.2)

        @api("GET", "/slow", public=True)
        def slow(self, request, principal):
            eventlet.sleep(5)

    response = Slow().slow(request())
    assert response.status_code == 504
    assert json.loads(response.get_data())["error"]["code"] == "service_timeout"


# -- resource limits --------------------------------------------------------


class Unreadable:
    """A wsgi.input that fails the test if anyone reads it."""

    def read(self, *args):
        raise AssertionError("the body was read")

    readline = readlines = read


class Echo(AccessRules):
    config = dict(CONFIG, GATEWAY_MAX_BODY_BYTES=100)

    def __init__(self):
        from services.gateway.http import api, read_json

        @api("POST", "/echo", public=True)
        def echo(self, request, principal):
            return read_json(request)

        self.echo = echo.__get__(self)


def test_a_body_above_the_limit_is_413_before_it_is_read():
    environ = EnvironBuilder(method="POST").get_environ()
    environ.update({"CONTENT_LENGTH": "101", "wsgi.input": Unreadable()})
    response = Echo().echo(Request(environ))
    assert response.status_code == 413
    assert json.loads(response.get_data())["error"]["code"] == "payload_too_large"


def test_a_body_without_content_length_is_never_read_past_the_limit():
    # chunked, from a server that sets wsgi.input_terminated: werkzeug caps the read
    # (eventlet's server does not set it, and such a body is not read at all)
    stream = io.BytesIO(b'{"a": "' + b"x" * 10_000 + b'"}')
    environ = EnvironBuilder(method="POST").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True})
    response = Echo().echo(Request(environ))
    assert response.status_code in (400, 413)
    assert stream.tell() <= 100 + 8192  # one buffered read at most, never the whole body


def test_a_body_within_the_limit_is_read():
    response = Echo().echo(request(data=b'{"a": 1}'))
    assert (response.status_code, json.loads(response.get_data())) == (200, {"a": 1})


def test_the_default_limit_is_one_mebibyte():
    from services.gateway.http import DEFAULT_MAX_BODY_BYTES, max_body_bytes

    assert max_body_bytes({}) == DEFAULT_MAX_BODY_BYTES == 1024 * 1024
    assert max_body_bytes({"GATEWAY_MAX_BODY_BYTES": "2048"}) == 2048


@pytest.mark.parametrize("depth", [33, 5000, 100_000])
def test_deeply_nested_json_is_400_never_a_500(depth):
    from services.gateway.http import api

    class Deep(AccessRules):
        config = CONFIG

        @api("POST", "/deep", public=True)
        def deep(self, request, principal):
            return read_json(request)

    body = b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
    response = Deep().deep(request(data=body))
    assert response.status_code == 400
    assert json.loads(response.get_data())["error"]["code"] == "malformed_json"


def test_reasonable_nesting_is_accepted():
    body = {"scores": {"e1": [{"a": [1, {"b": None}]}]}}
    assert read_json(request(data=json.dumps(body).encode())) == body


def test_an_api_address_no_rule_matches_gets_the_json_error_not_werkzeug_html():
    from werkzeug.exceptions import NotFound
    from werkzeug.test import EnvironBuilder

    from services.gateway.server import _json_api_not_found

    def served(path):
        environ = EnvironBuilder(path=path).get_environ()
        seen = {}

        def start_response(status, headers, exc_info=None):
            seen.update(status=status, headers=dict(headers))

        b"".join(NotFound()(environ, _json_api_not_found(environ, start_response)))
        return seen, environ.get("lvi.not_found", False)

    # a newline in the path: werkzeug's `<path:…>` catch-all does not match it
    seen, replaced = served("/api/v1/campaigns/\n2021/palmares")
    assert replaced and seen["status"].startswith("404")
    assert seen["headers"]["Content-Type"] == "application/json"
    # the pages keep their HTML 404
    seen, replaced = served("/palmares/\nx")
    assert not replaced and seen["headers"]["Content-Type"].startswith("text/html")


def get(headers=None):
    return Request(EnvironBuilder(method="GET", headers=headers or {}).get_environ())


@pytest.mark.parametrize(
    "accept, sent",
    [
        ("gzip, deflate, br", "gzip"),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", "gzip"),
        ("*", "gzip"),
        ("gzip;q=0", None),
        ("identity", None),
        (None, None),
    ],
)
def test_a_kept_body_goes_gzipped_to_whoever_accepts_gzip(accept, sent):
    raw = b"Commune;Arobases\r\n" * 200
    body = compressed(raw)
    response = body_response(get({"Accept-Encoding": accept} if accept else {}), body, "text/csv")
    assert response.content_encoding == sent
    assert (gzip.decompress(response.get_data()) if sent else response.get_data()) == raw
    assert response.headers["Content-Length"] == str(len(response.get_data()))
    assert "Accept-Encoding" in response.vary and response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.get_etag() == (f"{body.etag}-gzip" if sent else body.etag, False)


def test_a_client_holding_the_kept_body_gets_304_and_no_body():
    body = compressed(b"Commune;Arobases\r\n" * 200)
    held = body_response(get({"Accept-Encoding": "gzip"}), body, "text/csv").headers["ETag"]
    conditional = get({"Accept-Encoding": "gzip", "If-None-Match": held})
    again = body_response(conditional, body, "text/csv")
    assert again.status_code == 304 and b"".join(again.get_app_iter(conditional.environ)) == b""
    # The plain bytes are another representation: their holder's tag does not match the gzip.
    plain = body_response(get({"If-None-Match": held}), body, "text/csv")
    assert plain.status_code == 200 and plain.get_data() == body.raw


def test_a_body_no_cache_kept_goes_as_it_is_and_may_be_stored_by_none():
    draft = Body(b"<p>Brouillon</p>" * 100)  # an organiser's draft: neither gzipped nor tagged
    response = body_response(get({"Accept-Encoding": "gzip"}), draft, "text/html", 404)
    assert response.status_code == 404 and response.content_encoding is None
    assert response.get_data() == draft.raw and response.get_etag() == (None, None)
    assert "Cache-Control" not in response.headers  # so the server's no-store applies
    assert dict(secured(response.headers.to_wsgi_list()))["Cache-Control"] == "no-store"


def test_every_answer_is_neither_stored_framed_nor_sniffed_unless_its_route_says_otherwise():
    answer = dict(secured([("Content-Type", "application/json")]))
    assert answer["Cache-Control"] == "no-store"
    assert answer["X-Frame-Options"] == "DENY"
    assert answer["X-Content-Type-Options"] == "nosniff"
    assert "style-src 'self';" in answer["Content-Security-Policy"]
    stylesheet = secured([("cache-control", "public, max-age=3600")])  # WSGI names are any case
    assert [value for name, value in stylesheet if name.lower() == "cache-control"] == [
        "public, max-age=3600"
    ]
