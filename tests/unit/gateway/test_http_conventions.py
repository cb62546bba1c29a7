import json

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common import tokens
from services.gateway.http import ApiError, authenticate, read_json

CONFIG = {"LABEL_ADMIN_TOKEN": "admin-token", "LABEL_SECRET_KEY": "secret"}


def request(headers=None, data=None):
    return Request(EnvironBuilder(method="POST", headers=headers or {}, data=data).get_environ())


def test_no_header_is_anonymous():
    assert authenticate(CONFIG, request()) is None


def test_admin_token_is_an_organiser():
    principal = authenticate(CONFIG, request({"Authorization": "Bearer admin-token"}))
    assert principal == tokens.Principal("organiser", "admin")


def test_signed_token_names_its_role_and_subject():
    token = tokens.issue("secret", "juror", "j-7")
    assert authenticate(CONFIG, request({"Authorization": f"Bearer {token}"})) == tokens.Principal(
        "juror", "j-7"
    )


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

    class Slow:
        config = dict(CONFIG, GATEWAY_REQUEST_TIMEOUT=0.2)

        @api("GET", "/slow", public=True)
        def slow(self, request, principal):
            eventlet.sleep(5)

    response = Slow().slow(request())
    assert response.status_code == 504
    assert json.loads(response.get_data())["error"]["code"] == "service_timeout"
