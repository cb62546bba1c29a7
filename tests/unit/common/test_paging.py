import pytest

from services.common import paging


def test_pages_follow_each_other_without_gap_or_repeat():
    items = [{"id": f"a{n:03d}"} for n in range(23)]
    seen, after = [], None
    while True:
        chunk, after = paging.page(items[::-1], lambda item: [item["id"]], 10, after)
        seen += [item["id"] for item in chunk]
        if after is None:
            break
        after = paging.decode_cursor(paging.encode_cursor(after))  # through the opaque token
    assert seen == sorted(item["id"] for item in items)


def test_descending_order_and_last_page_without_cursor():
    years = [{"year": y} for y in (2024, 2026, 2025)]
    chunk, after = paging.page(years, lambda c: [c["year"]], 2, None, descending=True)
    assert [c["year"] for c in chunk] == [2026, 2025] and after == [2025]
    chunk, after = paging.page(years, lambda c: [c["year"]], 2, after, descending=True)
    assert [c["year"] for c in chunk] == [2024] and after is None


@pytest.mark.parametrize("text", ["0", "201", "-1", "abc", "1.5", "9" * 20, " 5"])
def test_a_bad_limit_names_the_field_in_french(text):
    with pytest.raises(paging.BadPage) as caught:
        paging.parse_limit(text)
    assert caught.value.field == "limit"
    assert "nombre entier de 1 à 200" in str(caught.value)


def test_limit_default_and_maximum():
    assert paging.parse_limit(None) == paging.DEFAULT_LIMIT == 50
    assert paging.parse_limit("200") == paging.MAX_LIMIT


@pytest.mark.parametrize(
    "text", ["%%%", "e30", paging.encode_cursor([])[:-1] + "!", "x" * 600, "bnVsbA", "W251bGxd"]
)
def test_a_cursor_not_given_by_the_api_is_refused(text):
    with pytest.raises(paging.BadPage) as caught:
        paging.decode_cursor(text)
    assert caught.value.field == "cursor"


def test_a_cursor_of_another_list_is_refused_not_a_crash():
    with pytest.raises(paging.BadPage):
        paging.page([{"id": "a"}], lambda item: [item["id"]], 10, [2025])
