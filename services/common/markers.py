"""Names a campaign has, each kept once in a small collection of markers (the
jury's deliberation shelves, the départements of a campaign's applications):
a uniquely keyed insert made before the document it names, so a page that
walks the names in order never misses a document."""

from collections.abc import Iterable

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.ledger import insert_new
from services.common.types import Doc


class CampaignMarkers:
    """Markers `{_id: "<year>|<name>", campaign_year, <field>: name}`."""

    def __init__(self, db: Database[Doc], collection: str, field: str) -> None:
        self.collection = db[collection]
        self.field = field

    def add(self, year: int | str, name: str) -> None:
        try:
            self.collection.insert_one({"_id": f"{year}|{name}", "campaign_year": year, self.field: name})
        except DuplicateKeyError:
            pass

    def add_many(self, names: Iterable[tuple[int | str, str]]) -> None:
        """`add` for many (year, name) pairs: one unordered insert."""
        docs = {f"{year}|{name}": {"campaign_year": year, self.field: name} for year, name in names}
        insert_new(self.collection, [dict(doc, _id=key) for key, doc in sorted(docs.items())])

    def of_campaign(self, year: int | str) -> list[str]:
        # a few hundred small documents a campaign at most
        found = self.collection.find({"campaign_year": year}, {self.field: 1})
        return sorted(doc[self.field] for doc in found)
