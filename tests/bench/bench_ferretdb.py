"""Document-store latencies on the local FerretDB, with and without the `_id`
index our Go program adds (deploy/local/mongo/idindex.go on SQLite, pgindex.go on
PostgreSQL: FERRETDB_BACKEND), measured in the same run on two fresh servers.

    .venv/bin/python tests/bench/bench_ferretdb.py [--sizes 1000,10000,30000]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pymongo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.support.ferretdb import OwnFerretDB  # noqa: E402


def per_op_ms(fn, count):
    started = time.perf_counter()
    for i in range(count):
        fn(i)
    return (time.perf_counter() - started) / count * 1000


def measure(uri, size, ops):
    collection = pymongo.MongoClient(uri)["bench"][f"docs{size}"]
    for start in range(0, size, 5000):
        collection.insert_many(
            [
                {"_id": f"k{i}", "state": "draft", "version": 1, "name": "x" * 200}
                for i in range(start, min(size, start + 5000))
            ]
        )
    time.sleep(1.5)  # the indexer runs every second
    return {
        "find _id": per_op_ms(lambda i: collection.find_one({"_id": f"k{i}"}), ops),
        "update _id": per_op_ms(lambda i: collection.update_one({"_id": f"k{i}"}, {"$set": {"a": 1}}), ops),
        "update _id+version": per_op_ms(
            lambda i: collection.update_one(
                {"_id": f"k{i}", "version": 1}, {"$set": {"state": "submitted", "version": 2}}
            ),
            ops,
        ),
        "delete _id": per_op_ms(lambda i: collection.delete_one({"_id": f"k{i + ops}"}), ops),
        "insert": per_op_ms(lambda i: collection.insert_one({"_id": f"n{i}"}), ops),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,30000")
    parser.add_argument("--ops", type=int, default=50)
    args = parser.parse_args()
    servers = []
    try:
        (ROOT / "var" / "tmp").mkdir(parents=True, exist_ok=True)
        for flag in ("false", "true"):
            base = Path(tempfile.mkdtemp(prefix="bench-ferret-", dir=ROOT / "var" / "tmp"))
            servers.append(OwnFerretDB(base, extra_args=(f"-id-index={flag}",)))
            servers[-1].start()
        print(servers[0].describe())
        print(f"{'documents':>10} {'operation':<20} {'no index ms':>12} {'index ms':>10} {'speed-up':>9}")
        for size in (int(s) for s in args.sizes.split(",")):
            baseline = measure(servers[0].uri, size, args.ops)
            indexed = measure(servers[1].uri, size, args.ops)
            for op in baseline:
                print(
                    f"{size:>10} {op:<20} {baseline[op]:>12.2f} {indexed[op]:>10.2f} "
                    f"{baseline[op] / indexed[op]:>8.1f}x"
                )
    finally:
        for server in servers:
            server.close()


if __name__ == "__main__":
    main()
