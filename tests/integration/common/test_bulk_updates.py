"""Bulk updates against the real server: our FerretDB never answers a bulk of
50 or more updates of existing documents, so `update_in_bulks` cuts them."""

from pymongo import UpdateOne

from services.common.mongo import UPDATES_PER_BULK, update_in_bulks


def test_many_updates_of_existing_documents_all_land(mongo_client, db_prefix):
    collection = mongo_client[f"{db_prefix}awards"]["bulk_updates"]
    count = 3 * UPDATES_PER_BULK + 7  # a single bulk this size would stall past the socket timeout
    collection.insert_many([{"_id": f"{n:05d}", "years": {"2016": {"arobases": 2}}} for n in range(count)])
    update_in_bulks(
        collection,
        [
            UpdateOne({"_id": f"{n:05d}"}, {"$set": {"years.2017": {"arobases": 3}}}, upsert=True)
            for n in range(count)
        ],
    )
    assert collection.count_documents({}) == count
    assert all(set(doc["years"]) == {"2016", "2017"} for doc in collection.find())
