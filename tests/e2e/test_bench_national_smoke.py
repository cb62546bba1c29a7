"""`make bench-national` in its smallest form, so that the benchmark cannot rot:
tests/bench/national.py at scale 0.001 (35 collectivités, 10 jurors, one
earlier campaign of history, 5 visitors, 100 lifecycle events) against the
RabbitMQ and MongoDB of the test run. Scale 0.01 (350 collectivités) takes
several minutes on the shared 2-core machine, too long for `make test`.
Asserts that every stage ran with the expected counts, not the timing targets."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COUNT = 35  # 35,000 × 0.001


def test_bench_national_runs_every_stage(amqp_base_uri, mongodb_uri, tmp_path):
    out, table = tmp_path / "stages.json", tmp_path / "table.txt"
    env = dict(os.environ, AMQP_URI=amqp_base_uri, MONGODB_URI=mongodb_uri)
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "bench" / "national.py"),
            *("--scale", "0.001", "--history", "1", "--visitors", "5", "--events", "100"),
            *("--json", str(out), "--out", str(table)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(out.read_text())
    stages = {s["name"]: s for s in result["stages"]}
    assert result["count"] == COUNT and result["jurors"] == 10

    def count(prefix):
        (stage,) = [s for name, s in stages.items() if name.startswith(prefix)]
        return stage["count"]

    assert count("history (1 campaigns)") > COUNT  # several documents per application
    assert count("import collectivités") == COUNT
    assert count("application drafts") == COUNT
    assert count("applications submitted") == COUNT
    assert count("baseline GET /jurors/me") == 600
    assert result["disagreeing"] == 2  # the 1st and the 21st: each reviewed a third time
    assert count("claims") == 2 * COUNT + 2
    assert count("reviews") == 2 * COUNT + 2
    assert count("proposals") == COUNT
    assert count("organisers' decisions") == len(range(0, COUNT, 10))
    assert count("deliberation pages") == 1  # 35 rows, 200 a page
    assert count("organiser's draft export") == COUNT  # every application labelled in the draft
    organiser_pages = [name for name in stages if name.startswith("organiser page: ")]
    assert len(organiser_pages) == 9 and all(stages[name]["count"] == 5 for name in organiser_pages)
    assert count("result emails") == COUNT
    assert count("result of one collectivité") == 20
    assert count("palmarès page") + count("palmarès CSV") > 0
    assert count("SMTP hand-off alone") == COUNT
    assert count("lifecycle events") == 100
    assert count("bare nameko events") == 100
    for service in ("submissions", "jury", "awards", "notifications", "gateway"):
        assert count(f"peak RSS {service}") > 10  # MiB: the sampler saw the process
    for stage in result["stages"]:  # a figure for every timed stage
        assert stage["per_second"] is None or stage["per_second"] > 0
    claims = stages["claims"]  # where each service's memory went, stage by stage
    assert claims["peak_rss_kib"]["jury"] > 10 * 1024 and claims["cpu_seconds"]["jury"] > 0
    text = table.read_text()
    assert "stage" in text and "met?" in text and f"MongoDB {mongodb_uri}" in text
    assert "peak RSS MiB in the stage" in text
