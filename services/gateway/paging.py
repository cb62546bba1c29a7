"""`limit` and `cursor` of the API's lists (services/common/paging.py): read
from the query string, a 400 naming the field when bad; the next page's
cursor goes in the `X-Next-Cursor` header, so a list body stays the JSON
array API.md describes."""

from services.common import paging
from services.gateway.http import ApiError, json_response

NEXT_CURSOR_HEADER = "X-Next-Cursor"


def bad_cursor():
    exc = paging.BadPage("cursor", paging.UNKNOWN_CURSOR)
    return ApiError(400, "invalid_pagination", str(exc), {exc.field: [exc.reason]})


def page_args(request):
    """(limit, key after which the page starts or None)."""
    try:
        limit = paging.parse_limit(request.args.get("limit"))
        cursor = request.args.get("cursor")
        return limit, (paging.decode_cursor(cursor) if cursor else None)
    except paging.BadPage as exc:
        raise ApiError(400, "invalid_pagination", str(exc), {exc.field: [exc.reason]}) from None


def page_response(items, next_key):
    headers = {NEXT_CURSOR_HEADER: paging.encode_cursor(next_key)} if next_key is not None else None
    return json_response(items, headers=headers)


def paged(request, items, key, descending=False):
    """One page of a whole list the service returned (lists it bounds itself)."""
    limit, after = page_args(request)
    try:
        return page_response(*paging.page(items, key, limit, after, descending))
    except paging.BadPage:  # a cursor of another list
        raise bad_cursor() from None


def id_page_args(request):
    """(limit, id after which the page starts or None) of a list the service
    pages itself by one string id."""
    limit, after = page_args(request)
    if after is not None and (len(after) != 1 or not isinstance(after[0], str)):
        raise bad_cursor()  # not one of this list's
    return limit, (after[0] if after else None)


def id_page_response(rows, limit):
    """A page of the `limit + 1` rows the service was asked for: the one more
    says that another page follows."""
    return page_response(rows[:limit], [rows[limit - 1]["id"]] if len(rows) > limit else None)
