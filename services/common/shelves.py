"""Shelves: a campaign's applications grouped by the start of their id.

A shelf is the application id up to 1, 2 or 3 characters of the
collectivité's code ("2017:2", "2017:25", "2017:250" for "2017:25056"). Each
is a prefix of the sort key, so shelves in order hold the applications in
`_id` order, and a page of them is read by a few equalities on the
`shelf_<width>` fields (the one filter FerretDB v1 hands to PostgreSQL's
indexes), never by a range or the whole campaign. The jury reads the
deliberation shelf by shelf (services/jury/logic.py, which picks the widths);
the awards service keeps the organisers' decisions on the same shelves, so a
page's decisions are read by the shelves the jury read for it."""

from services.common.types import Doc

SHELF_WIDTHS = (1, 2, 3)


def shelf(application_id: str, width: int) -> str:
    return application_id[: application_id.find(":") + 1 + width]


def shelf_fields(application_id: str) -> Doc:
    """The top-level fields an application's documents are read by."""
    return {f"shelf_{width}": shelf(application_id, width) for width in SHELF_WIDTHS}
