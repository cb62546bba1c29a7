"""Lists a service pages itself by one string id (services/gateway/paging.py)."""

import json
from types import SimpleNamespace

import pytest

from services.common import paging
from services.gateway.http import ApiError
from services.gateway.paging import NEXT_CURSOR_HEADER, id_page_args, id_page_response


def request(**args):
    return SimpleNamespace(args=args)


def test_the_one_more_row_makes_the_next_cursor_and_stays_off_the_page():
    response = id_page_response([{"id": "a"}, {"id": "b"}, {"id": "c"}], 2)
    assert [row["id"] for row in json.loads(response.get_data())] == ["a", "b"]
    assert paging.decode_cursor(response.headers[NEXT_CURSOR_HEADER]) == ["b"]
    assert NEXT_CURSOR_HEADER not in id_page_response([{"id": "a"}], 2).headers


def test_a_cursor_of_one_id_is_read_and_any_other_refused_naming_the_field():
    assert id_page_args(request(limit="3", cursor=paging.encode_cursor(["2017:25056"]))) == (3, "2017:25056")
    assert id_page_args(request()) == (paging.DEFAULT_LIMIT, None)
    for key in (["a", "b"], [7]):
        with pytest.raises(ApiError) as refused:
            id_page_args(request(cursor=paging.encode_cursor(key)))
        assert (refused.value.status, refused.value.code) == (400, "invalid_pagination")
        assert list(refused.value.fields) == ["cursor"]
