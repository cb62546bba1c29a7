"""Shelves: a campaign's applications grouped by the start of their id.

A shelf is the application id up to 1, 2 or 3 characters of the
collectivité's code ("2017:2", "2017:25", "2017:250" for "2017:25056"). Each
is a prefix of the sort key, so shelves in order hold the applications in
`_id` order, and a page of them is read by a few equalities on the
`shelf_<width>` fields (the one filter FerretDB v1 hands to PostgreSQL's
indexes), never by a range or the whole campaign. The jury reads the
deliberation shelf by shelf (services/jury/logic.py, which picks the widths);
the awards service keeps the organisers' decisions on the same shelves, so a
page's decisions are read by the shelves the jury read for it.

The deliberation's disagreements view reads its own shelves: an application
whose reviewers disagree carries them under `disputed_shelf_<width>` too (None
otherwise), so that an equality finds the disagreements alone, by an index,
where `disagreement: true` beside `shelf_<width>` read the whole shelf."""

from services.common.types import Doc

SHELF_WIDTHS = (1, 2, 3)
DISPUTED = "disputed_shelf"


def shelf(application_id: str, width: int) -> str:
    return application_id[: application_id.find(":") + 1 + width]


def shelf_fields(application_id: str, field: str = "shelf") -> Doc:
    """The top-level fields an application's documents are read by (`<field>_<width>`)."""
    return {f"{field}_{width}": shelf(application_id, width) for width in SHELF_WIDTHS}


def disputed_fields(application_id: str, disagreement: bool) -> Doc:
    """The disagreements view's shelf fields of an application: its shelves
    while its reviewers disagree, else None."""
    fields = shelf_fields(application_id, DISPUTED)
    return fields if disagreement else dict.fromkeys(fields)
