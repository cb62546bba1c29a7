"""Cursor pagination of the API's lists over the running stack: pages of
`limit` items in a stable order, the next page's cursor in `X-Next-Cursor`,
no item twice or missing; a bad `limit` or `cursor` gets 400 naming the field.
Campaign years 2391-2397; INSEE codes 15x9x; jurors *@pagination.example.fr."""

from datetime import timedelta

import pytest

from labelctl.client import Api
from tests.support.api import ok, open_campaign, poll

pytestmark = pytest.mark.e2e

YEARS = range(2391, 2398)


def walk(stack, path, limit, **params):
    """Every item of a list, page after page; and how many pages it took."""
    items, pages, cursor = [], 0, None
    while True:
        query = dict(params, limit=limit) | ({"cursor": cursor} if cursor else {})
        response = stack.http("GET", path, token=stack.admin_token, params=query)
        page = ok(response)
        assert len(page) <= limit
        items += page
        pages += 1
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            return items, pages


@pytest.fixture(scope="module")
def campaigns(stack):
    for year in YEARS:
        open_campaign(stack, year, "Aurillac", closes_in=timedelta(days=2))
    return list(YEARS)


def test_campaigns_come_page_by_page_newest_first(stack, campaigns):
    items, pages = walk(stack, "/api/v1/campaigns", 3)
    years = [c["year"] for c in items]
    assert years == sorted(years, reverse=True) and len(years) == len(set(years))
    assert set(campaigns) <= set(years)
    assert pages >= 3
    whole = ok(stack.http("GET", "/api/v1/campaigns", params={"limit": 200}))
    assert [c["year"] for c in whole] == years


def test_applications_jurors_and_outbox_are_paged_without_gap_or_repeat(stack, campaigns):
    year = campaigns[0]
    enjeu = ok(stack.http("GET", f"/api/v1/campaigns/{year}"))["grid"]["enjeux"][0]
    for n in range(5):
        insee = f"15{n}9{n}"
        town = ok(
            stack.http(
                "POST",
                "/api/v1/collectivites",
                token=stack.admin_token,
                json={
                    "insee_code": insee,
                    "name": f"Commune {insee}",
                    "kind": "commune",
                    "population": 900,
                    "region": "Auvergne-Rhône-Alpes",
                    "department": "15",
                    "email": f"mairie-{insee}@pagination.example.fr",
                },
            ),
            201,
        )
        application = ok(
            stack.http(
                "POST",
                "/api/v1/applications",
                token=town["token"],
                json={
                    "campaign_year": year,
                    "services": [enjeu["services"][0]["code"]],
                    "initiatives": [{"title": "Site", "enjeu": enjeu["code"], "description": "Refonte."}],
                },
            ),
            201,
        )
        if n != 4:  # one left a draft: not in the deliberation
            ok(stack.http("POST", f"/api/v1/applications/{application['id']}/submit", token=town["token"]))
        ok(
            stack.http(
                "POST",
                "/api/v1/jurors",
                token=stack.admin_token,
                json={"name": f"Juré {n}", "email": f"jure-{n}@pagination.example.fr", "department": "63"},
            ),
            201,
        )
    applications, pages = walk(stack, f"/api/v1/campaigns/{year}/applications", 2)
    ids = [a["id"] for a in applications]
    assert len(ids) == 5 == len(set(ids)) and ids == sorted(ids) and pages == 3

    # The deliberation of the 4 submitted: the jury reads it shelf by shelf (one per town here).
    rows, pages = poll(
        lambda: walk(stack, f"/api/v1/campaigns/{year}/deliberation", 2), lambda found: len(found[0]) == 4
    )
    assert [row["application_id"] for row in rows] == ids[:4] and pages == 2

    jurors, _ = walk(stack, "/api/v1/jurors", 2)
    emails = [j["email"] for j in jurors if j["email"].endswith("@pagination.example.fr")]
    assert sorted(emails) == [f"jure-{n}@pagination.example.fr" for n in range(5)]
    assert len({j["id"] for j in jurors}) == len(jurors)

    # 10 welcome emails (5 towns, 5 jurors): the outbox, newest first, read by _id range.
    # Other tests share the stack and keep mailing (and this test's towns get their
    # acknowledgements meanwhile): no email is on two pages, none goes missing.
    def ours(found):
        return [r["id"] for r in found if r["recipient"].endswith("@pagination.example.fr")]

    rows = poll(lambda: walk(stack, "/api/v1/outbox", 3)[0], lambda rows: len(ours(rows)) >= 10)
    keys = [(row["created_at"], row["id"]) for row in rows]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)
    # labelctl follows the cursors too
    again = ours(Api(stack.base_url, stack.admin_token).get("/outbox", params={"limit": 3}))
    assert len(again) == len(set(again)) and set(ours(rows)) <= set(again)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "dix"}, "limit"),
        ({"cursor": "pas-un-jeton"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # ["x"]: a cursor of another list
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/campaigns", "/api/v1/outbox", "/api/v1/dead-letters"])
def test_a_bad_limit_or_cursor_gets_400_naming_the_field(stack, params, field, path):
    response = stack.http("GET", path, token=stack.admin_token, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_pagination" and list(error["fields"]) == [field]
    assert f"« {field} »" in error["message"]
