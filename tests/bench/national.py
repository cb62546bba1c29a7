"""The whole year at national scale (issue 17), against the running system as
real processes: every service started by tests/support/stack.py in its own
vhost and database prefix, on the running RabbitMQ and on MONGODB_URI (else a
private throw-away FerretDB, as `make test` starts), its own SMTP capture.

At scale s (35,000 × s collectivités, at least 10 jurors of 300 × s):
  history    `--history N` earlier national campaigns of the same size, loaded
             first. Going through the API would take longer than the run itself,
             so one small real campaign (one collectivité, the whole lifecycle,
             its emails sent) is run through the API and every document of it
             that names its year is copied in bulk into each service's database:
             per collectivité when it names the collectivité (applications,
             tasks, claims, reviews, proposals, emails, ledger changes, inbox
             records...), once per campaign otherwise (the campaign, its
             release...), ids and years rewritten (insert_many). The
             collectivités themselves are not copied: this year's import signs
             them up;
  import     the CSV of collectivités through labelctl's importer (the code of
             `labelctl import`, 8 workers, POST /api/v1/collectivites);
  apply      each collectivité's draft and submission, 30 concurrent clients;
  claim, review   the 2 review tasks of each application claimed and reviewed
             by the jurors through 30 concurrent clients, and the extra review
             of each application whose reviewers disagree (one in
             DISAGREE_EVERY); baseline in the same run: GET /api/v1/jurors/me,
             30 clients;
  proposals  the jury's proposals all arrived in awards;
  decisions  the organisers' decisions on one application in ten, 4 at once;
  deliberation   once the jury's emails and events have left,
             GET /campaigns/{year}/deliberation, every page (limit 200);
  draft export   an organiser's draft palmarès, CSV then JSON (awards
             draft_export: written out, read chunk by chunk);
  organiser pages   each page of the console an organiser opens during the
             deliberation (ORGANISER_PAGES), signed in as a person is (the
             link of the sign-in email): a first read of each asks for its
             counts, the first counts are awaited, then 5 reads each;
  release    POST /campaigns/{year}/release, then every result email accepted
             by the SMTP capture (arrival times from its file names), while
             `--visitors` concurrent visitors read /palmares/{year}, its
             regions' pages and palmares.csv in turn; baseline: the same
             emails handed to the same capture alone (no database), with as
             many connections as the sender
             (SMTP_CONNECTIONS when the configuration has it, else 1);
  results    20 collectivités reading their result (GET /applications/{id}/result);
  events     the lifecycle's event throughput (application_submitted events
             dispatched to the running services, until the jury has created
             their tasks) against bare nameko events and kombu publish/consume
             on the same broker (tests/bench/bare_events.py).
The peak VmRSS of each service process is sampled every 0.5 s during the run.
Prints one table (stage, count, per second, median, p99, vs baseline, target,
met?), then each process's CPU seconds and peak RSS stage by stage, and
writes them to var/bench/national-<backend>-<scale>.txt. A SIGINT stops the
run and still writes the stages measured.

    .venv/bin/python tests/bench/national.py [--scale 0.1] [--history 5] [--json out.json]
    make bench-national SCALE=0.1
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import pymongo  # noqa: E402
from bson import ObjectId, json_util  # noqa: E402

from labelctl.client import Api  # noqa: E402
from labelctl.importer import Importer, tokens_file_writer  # noqa: E402
from services.common.mongo import READ_BATCH  # noqa: E402
from services.common.reference import REGION_OF_DEPARTMENT, region_name  # noqa: E402
from tests.bench.bench_claims import feed  # noqa: E402
from tests.bench.bench_import import write_csv  # noqa: E402
from tests.support import web  # noqa: E402
from tests.support.api import open_campaign, wait_until  # noqa: E402
from tests.support.bench import RssSampler, percentile, run_all  # noqa: E402
from tests.support.config import service_config  # noqa: E402
from tests.support.ferretdb import private_ferretdb  # noqa: E402
from tests.support.stack import BACKEND_NAMES, SERVICE_NAMES, Stack  # noqa: E402

NATIONAL = 35_000
YEAR = 2300  # this year's campaign; history: YEAR - N .. YEAR - 1
TEMPLATE_YEAR = 2280  # the small real campaign the history is copied from
EVENTS_YEAR = 2301  # the lifecycle events of the event-throughput stage
JUROR_DEPARTMENT = "971"  # no collectivité of the CSV (01..95) is in conflict
TEMPLATE_INSEE, TEMPLATE_DEPARTMENT = "2A004", "2A"  # outside the CSV's departments
FORCE = {"force": True, "reason": "Mesure de charge : publication avant la clôture."}
MIB = 1024
RSS_LIMIT_MIB = 150
LIST_PAGE_MS = 200
ORGANISER = {"name": "Organisatrice de la mesure", "email": "organisation@bench-national.example.fr"}
PAGE_READS = 5  # each organiser page, read one after the other
DECIDED_EVERY = 10  # the organisers decide on one application in ten before the deliberation's pages
# One application in twenty gets reviews two arobases apart or more, as jurors
# give: its extra review (a third claim) and the disagreements view are measured.
DISAGREE_EVERY = 20
DISAGREEING_AROBASES = {1: 1, 2: 4, 3: 3}  # by task number: 1 and 4 disagree; the extra review 3
ORGANISERS_DECIDING = 4  # at once
FIRST_COUNT = "premier décompte en cours"  # a page whose counts the timer has not made yet
FIRST_COUNT_WAIT = 1800  # seconds
RESULT_READS = 20  # collectivités reading their result after the release, one after the other
# The console's pages an organiser opens during the deliberation ({app}: one application).
ORGANISER_PAGES = (
    ("campaign", "/organisation/campagnes/{year}"),
    ("applications", "/organisation/campagnes/{year}/candidatures"),
    ("applications of a département", "/organisation/campagnes/{year}/candidatures?departement=25"),
    ("deliberation", "/organisation/campagnes/{year}/deliberation"),
    ("disagreements", "/organisation/campagnes/{year}/deliberation?vue=desaccords"),
    ("one application", "/organisation/candidatures/{app}"),
    ("jurors", "/organisation/jures"),
    ("outbox", "/organisation/courriels"),
    ("release preview", "/organisation/campagnes/{year}/publication"),
)


@dataclass
class Stage:
    name: str
    count: int = 0
    seconds: float = 0.0
    latencies: list = field(default_factory=list)  # ms
    baseline: str = ""
    target: str = ""
    met: bool | None = None
    note: str = ""
    cpu: dict = field(default_factory=dict)  # process → CPU seconds since the previous stage
    rss_kib: dict = field(default_factory=dict)  # process → peak VmRSS since the previous stage

    @property
    def rate(self):
        return self.count / self.seconds if self.seconds > 0 else None

    @property
    def median(self):
        return statistics.median(self.latencies) if self.latencies else None

    @property
    def p99(self):
        return percentile(self.latencies, 0.99) if self.latencies else None

    def row(self):
        def num(value, fmt):
            return "—" if value is None else format(value, fmt)

        met = {True: "yes", False: "NO", None: "—"}[self.met]
        return [
            self.name,
            str(self.count),
            num(self.rate, ",.1f"),
            num(self.median, ",.1f"),
            num(self.p99, ",.1f"),
            self.baseline or "—",
            self.target or "—",
            met,
        ]

    def as_json(self):
        return {
            "name": self.name,
            "count": self.count,
            "seconds": self.seconds,
            "per_second": self.rate,
            "median_ms": self.median,
            "p99_ms": self.p99,
            "baseline": self.baseline,
            "target": self.target,
            "met": self.met,
            "note": self.note,
            "cpu_seconds": self.cpu,
            "peak_rss_kib": self.rss_kib,
        }


class Clients:
    """`n` concurrent HTTP clients (one requests Session each) working through
    `items`; `fn(session, item, timer)` does the requests of one item and times
    them with `timer(label, started, response)`."""

    def __init__(self):
        self.latencies: dict[str, list] = {}
        self.statuses: dict[str, dict] = {}
        self._lock = threading.Lock()

    def timer(self, label, started, response):
        elapsed = (time.perf_counter() - started) * 1000
        with self._lock:
            self.latencies.setdefault(label, []).append(elapsed)
            counts = self.statuses.setdefault(label, {})
            counts[response.status_code] = counts.get(response.status_code, 0) + 1

    def run(self, n, items, fn):
        import requests

        items = iter(items)
        lock, errors = threading.Lock(), []

        def worker():
            with requests.Session() as session:
                while not errors:
                    with lock:
                        item = next(items, None)
                    if item is None:
                        return
                    try:
                        fn(session, item, self.timer)
                    except BaseException as exc:  # raised in the caller's thread
                        errors.append(exc)

        return run_all([threading.Thread(target=worker, daemon=True) for _ in range(n)], errors)


RETRIES = 10
TIMEOUTS: dict[str, int] = {}  # label → 5xx answers or no answer, retried
_timeouts_lock = threading.Lock()


def request(http, method, url, label, **kw):
    """(response, retried): the answer of a client that retries, as a user
    would, while the gateway answers 5xx (504: a service did not answer within
    GATEWAY_REQUEST_TIMEOUT) or not at all; the 5xx are counted per label."""
    import requests

    kw.setdefault("timeout", 120)
    retried = False
    for attempt in range(RETRIES):
        try:
            response = http.request(method, url, **kw)
            if response.status_code < 500:
                return response, retried
        except requests.RequestException:
            if attempt == RETRIES - 1:
                raise
        with _timeouts_lock:
            TIMEOUTS[label] = TIMEOUTS.get(label, 0) + 1
        retried = True
        time.sleep(1)
    return response, retried


def expect(response, *statuses):
    if response.status_code not in statuses:
        raise SystemExit(
            f"{response.request.method} {response.url}: {response.status_code} {response.text[:300]}"
        )
    return response


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Stopped(Exception):
    """A stage did not finish in its time: the table shows what was measured."""


def wait_for(what, predicate, timeout, interval=0.5):
    """tests/support/api.py's wait_until, stopping the benchmark when it times out."""
    try:
        return wait_until(predicate, timeout, interval, what)
    except AssertionError as exc:
        raise Stopped(str(exc)) from None


def cpu_bound(cpu: dict[str, float], emails: int, seconds: float) -> str:
    """What bounds the result emails on this machine: the CPU each one costs
    (every process but the visitors' side: the release, the services, the
    database, the SMTP capture) against the cores, in the release's window."""
    if not cpu or not emails or seconds <= 0:
        return ""
    visitors = cpu.get("gateway", 0.0) + cpu.get("bench clients", 0.0)
    per_email_ms = (sum(cpu.values()) - visitors) / emails * 1000
    cores = os.cpu_count() or 1
    return (
        f"CPU per email {per_email_ms:.1f} ms, so ≤ {cores * 1000 / per_email_ms:.0f}/s on {cores} cores "
        f"with nothing else; the visitors and the gateway took {visitors / (seconds * cores):.0%} of them"
    )


class National:
    def __init__(self, stack: Stack, args):
        self.stack = stack
        self.args = args
        self.count = max(1, round(NATIONAL * args.scale))
        self.jurors_count = max(10, round(300 * args.scale))
        self.stages: list[Stage] = []
        self.jurors: list[dict] = []
        self.applicants: list[dict] = []  # insee, id, token, email
        self.grid: dict = {}
        self.api = stack.api
        self.admin = {"Authorization": f"Bearer {stack.admin_token}"}
        self.sampler: RssSampler | None = None
        self.organiser_session = None
        self._cpu: dict[str, float] = {}

    def cpu_so_far(self) -> dict[str, float]:
        """Each process's CPU seconds so far, this one's own included (its
        clients and visitors share the cores with the services)."""
        assert self.sampler is not None
        return dict(self.sampler.cpu(), **{"bench clients": time.process_time()})

    def add(self, stage: Stage) -> Stage:
        self.stages.append(stage)
        if self.sampler is not None:  # CPU seconds of each process since the previous stage
            now = self.cpu_so_far()
            stage.cpu = {k: v - self._cpu.get(k, 0.0) for k, v in now.items()}
            self._cpu = now
            stage.rss_kib = self.sampler.stage_peaks()
        rate = f"{stage.rate:,.1f}/s" if stage.rate else "—"
        median = f"median {stage.median:,.1f} ms, p99 {stage.p99:,.1f} ms" if stage.latencies else ""
        say(f"{stage.name}: {stage.count} in {stage.seconds:.1f} s ({rate}) {median} {stage.note}".rstrip())
        return stage

    # -- setup ----------------------------------------------------------------

    def register_jurors(self):
        for n in range(self.jurors_count):
            body = expect(
                self.stack.http(
                    "POST",
                    "/api/v1/jurors",
                    token=self.stack.admin_token,
                    json={
                        "name": f"Juré {n}",
                        "email": f"jure{n}@bench-national.example.fr",
                        "department": JUROR_DEPARTMENT,
                        "conflicts": [],
                    },
                ),
                201,
            ).json()
            self.jurors.append(body)

    # -- history ----------------------------------------------------------------

    def sign_in_organiser(self):
        """An organiser's web session, opened before the year's emails fill the capture."""
        admin = self.stack.admin_token
        expect(self.stack.http("POST", "/api/v1/organisers", token=admin, json=ORGANISER), 201)
        self.organiser_session, _, _ = web.signed_in(self.stack, ORGANISER["email"])

    def template_campaign(self):
        """One collectivité through the whole lifecycle (year TEMPLATE_YEAR), its emails sent."""
        stack = self.stack
        open_campaign(stack, TEMPLATE_YEAR, "Lille")
        grid = stack.http("GET", f"/api/v1/campaigns/{TEMPLATE_YEAR}", token=stack.admin_token).json()["grid"]
        col = expect(
            stack.http(
                "POST",
                "/api/v1/collectivites",
                token=stack.admin_token,
                json={
                    "insee_code": TEMPLATE_INSEE,
                    "name": f"Commune {TEMPLATE_INSEE}",
                    "kind": "commune",
                    "population": 1200,
                    "region": region_name(REGION_OF_DEPARTMENT[TEMPLATE_DEPARTMENT]),
                    "department": TEMPLATE_DEPARTMENT,
                    "email": f"mairie-{TEMPLATE_INSEE.lower()}@histoire.example.fr",
                },
            ),
            201,
        ).json()
        app = self._draft_and_submit(None, col["token"], TEMPLATE_YEAR, grid, 0, None, col["id"])
        for juror in self.jurors[:2]:

            def claim(token=juror["token"]):
                response = stack.http(
                    "POST", "/api/v1/review-tasks/claim", token=token, json={"campaign_year": TEMPLATE_YEAR}
                )
                return response.json() if response.status_code == 200 else None

            task = wait_for("the template's task", claim, 60)
            expect(
                stack.http(
                    "POST",
                    f"/api/v1/review-tasks/{task['id']}/review",
                    token=juror["token"],
                    json=self._review(grid, task, disagreeing=()),
                ),
                200,
            )
        awards = stack.mongo("awards")
        wait_for(
            "the template's proposal",
            lambda: awards["proposals"].find_one({"campaign_year": TEMPLATE_YEAR}),
            60,
        )
        expect(
            stack.http(
                "POST", f"/api/v1/campaigns/{TEMPLATE_YEAR}/release", token=stack.admin_token, json=FORCE
            ),
            202,
        )
        wait_for(
            "the template's palmarès",
            lambda: stack.http("GET", f"/api/v1/campaigns/{TEMPLATE_YEAR}/palmares").status_code == 200,
            60,
        )
        notifications = stack.mongo("notifications")
        wait_for(
            "the template's result email",
            lambda: notifications["emails"].find_one(
                {"campaign_year": TEMPLATE_YEAR, "template": "result", "state": "sent"}
            ),
            120,
        )
        self.settle(120)
        return {"collectivite_id": col["id"], "application_id": app}

    def settle(self, timeout):
        """No email queued or being sent, no ledger change unpublished, for 2 s."""
        emails = self.stack.mongo("notifications")["emails"]

        def quiet():  # equalities: FerretDB hands them to PostgreSQL (an `$in` reads every email)
            if emails.count_documents({"state": "queued"}, limit=1):
                return False
            return not any(
                self.stack.mongo(s)["outbox_pending"].count_documents({}, limit=1) for s in BACKEND_NAMES
            )

        wait_for("the system to settle", lambda: quiet() and (time.sleep(2) or quiet()), timeout, interval=1)

    def load_history(self, campaigns):
        """Copies of the template campaign, `campaigns` × `self.count` collectivités."""
        stage = Stage(f"history ({campaigns} campaigns)", target="", note="bulk insert_many")
        started = time.perf_counter()
        template = self.template_campaign()
        colid = template["collectivite_id"]
        year_re = re.compile(rf"(?<!\d){TEMPLATE_YEAR}(?!\d)")
        email = f"mairie-{TEMPLATE_INSEE.lower()}@histoire.example.fr"
        inserted = 0
        for service in BACKEND_NAMES:
            db = self.stack.mongo(service)
            for name in db.list_collection_names():
                if name == "outbox_pending":
                    continue
                per_campaign, per_applicant = [], []
                for doc in db[name].find({}):
                    text = json_util.dumps(doc)
                    if not year_re.search(text):
                        continue  # not the campaign's (jurors, collectivités, welcome emails)
                    id_text = json_util.dumps(doc["_id"])
                    names_it = colid in text or TEMPLATE_INSEE in text
                    # a campaign's own document (its id names the year, not the
                    # collectivité: a release, a palmarès) is copied once per campaign
                    campaign_id = year_re.search(id_text) and not (
                        colid in id_text or TEMPLATE_INSEE in id_text
                    )
                    (per_applicant if names_it and not campaign_id else per_campaign).append(
                        (doc["_id"], text)
                    )
                batch = []
                for c in range(campaigns):
                    year = str(YEAR - campaigns + c)
                    for _id, text in per_campaign:
                        batch.append(self._copy(_id, year_re.sub(year, text), f"h{c}"))
                    for n in range(self.count if per_applicant else 0):
                        new_col, new_insee = f"{colid[:12]}h{c}n{n}", f"H{c}{n:05d}"
                        for _id, text in per_applicant:
                            copy = year_re.sub(year, text).replace(colid, new_col)
                            copy = copy.replace(TEMPLATE_INSEE, new_insee).replace(
                                email, f"mairie-h{c}n{n}@histoire.example.fr"
                            )
                            batch.append(self._copy(_id, copy, f"h{c}n{n}"))
                        if len(batch) >= 2000:
                            inserted += self._insert(db[name], batch)
                            batch = []
                inserted += self._insert(db[name], batch)
        stage.count = inserted
        stage.seconds = time.perf_counter() - started
        stage.note = f"documents inserted ({campaigns} × {self.count} applications)"
        self.add(stage)

    @staticmethod
    def _copy(old_id, text, suffix):
        doc = json_util.loads(text)
        if doc["_id"] == old_id:  # an id that names neither the year nor the collectivité
            doc["_id"] = f"{old_id}~{suffix}" if isinstance(old_id, str) else ObjectId()
        return doc

    @staticmethod
    def _insert(collection, docs):
        if not docs:
            return 0
        try:
            return len(collection.insert_many(docs, ordered=False).inserted_ids)
        except pymongo.errors.BulkWriteError as exc:
            return exc.details.get("nInserted", 0)

    # -- this year's campaign ---------------------------------------------------

    def import_collectivites(self, directory):
        path = Path(directory) / "collectivites.csv"
        write_csv(path, self.count, seed=17)
        api = Api(self.stack.base_url, self.stack.admin_token, pool_size=8)
        stage = Stage("import collectivités (labelctl)")
        raw = api.raw
        lock = threading.Lock()

        def timed(method, path, **kw):
            t0 = time.perf_counter()
            response = raw(method, path, **kw)
            with lock:
                stage.latencies.append((time.perf_counter() - t0) * 1000)
            return response

        api.raw = timed
        tokens = io.StringIO()
        importer = Importer(api, workers=8, tokens_writer=tokens_file_writer(tokens))
        started = time.perf_counter()
        with open(path, encoding="utf-8", newline="") as fh:
            report = importer.run(fh)
        stage.seconds = time.perf_counter() - started
        stage.count = report.imported
        if report.rejected or report.skipped:
            stage.note = f"rejected {len(report.rejected)}, skipped {report.skipped}: {report.rejected[:3]}"
        tokens.seek(0)
        for row in list(csv.reader(tokens))[1:]:
            insee, col_id, token = row
            self.applicants.append(
                {"insee": insee, "id": col_id, "token": token, "email": f"mairie-{insee}@bench.example"}
            )
        self.add(stage)

    def _draft_and_submit(self, session, token, year, grid, n, timer, collectivite_id):
        import requests

        http = session or requests.Session()
        headers = {"Authorization": f"Bearer {token}"}
        enjeu = grid["enjeux"][n % len(grid["enjeux"])]
        t0 = time.perf_counter()
        response, retried = request(
            http,
            "POST",
            f"{self.api}/applications",
            "draft",
            headers=headers,
            json={
                "campaign_year": year,
                "services": [s["code"] for s in enjeu["services"][:2]],
                "initiatives": [
                    {"title": "Médiation numérique", "enjeu": enjeu["code"], "description": "Ateliers."}
                ],
            },
        )
        if timer:
            timer("draft", t0, response)
        if retried and response.status_code == 409:  # the try that timed out wrote it
            app_id = f"{year}:{collectivite_id}"
        else:
            app_id = expect(response, 201).json()["id"]
        t0 = time.perf_counter()
        response, retried = request(
            http, "POST", f"{self.api}/applications/{app_id}/submit", "submit", headers=headers
        )
        if timer:
            timer("submit", t0, response)
        if not (retried and response.status_code == 409):
            expect(response, 200)
        return app_id

    def apply(self):
        clients = Clients()
        numbered = list(enumerate(self.applicants))

        def one(session, item, timer):
            n, a = item
            a["application_id"] = self._draft_and_submit(
                session, a["token"], YEAR, self.grid, n, timer, a["id"]
            )

        seconds = clients.run(self.args.clients, numbered, one)
        for label, name in (("draft", "application drafts"), ("submit", "applications submitted")):
            lat = clients.latencies.get(label, [])
            self.add(Stage(name, len(lat), seconds, lat))

    def wait_tasks(self):
        tasks = self.stack.mongo("jury")["tasks"]
        started = time.perf_counter()
        wait_for(
            "the review tasks",
            lambda: tasks.count_documents({"campaign_year": YEAR}) >= 2 * len(self.applicants),
            300 + len(self.applicants) / 5,
            interval=1,
        )
        say(
            f"{2 * len(self.applicants)} review tasks created "
            f"({time.perf_counter() - started:.1f} s after the last submission)"
        )

    @property
    def disagreeing(self):
        """The applications whose reviewers disagree: one in DISAGREE_EVERY."""
        return {a["application_id"] for a in self.applicants[::DISAGREE_EVERY] if "application_id" in a}

    def _review(self, grid, task, disagreeing):
        application_id = task["application_id"]
        if application_id in disagreeing:
            arobases = DISAGREEING_AROBASES[int(task["id"].rsplit(":", 1)[1])]
        else:
            arobases = sum(map(ord, application_id)) % 5 + 1
        return {
            "scores": {e["code"]: 3 for e in grid["enjeux"]},
            "arobases": arobases,
            "mentions": [],
            "comment": "Démarche solide.",
        }

    def baseline(self):
        clients = Clients()
        samples = max(600, self.args.clients * 20)

        def one(session, n, timer):
            juror = self.jurors[n % len(self.jurors)]
            t0 = time.perf_counter()
            response, _ = request(
                session,
                "GET",
                f"{self.api}/jurors/me",
                "jurors/me",
                headers={"Authorization": f"Bearer {juror['token']}"},
            )
            timer("me", t0, expect(response, 200))

        seconds = clients.run(self.args.clients, range(samples), one)
        return self.add(Stage("baseline GET /jurors/me", samples, seconds, clients.latencies["me"]))

    def claim_and_review(self, baseline: Stage):
        disagreeing = self.disagreeing
        expected = 2 * len(self.applicants) + len(disagreeing)
        done = [0]
        lock = threading.Lock()
        clients = Clients()
        deadline = time.monotonic() + self.args.stage_timeout

        def review(session, headers, task, recovering):
            t0 = time.perf_counter()
            response, retried = request(
                session,
                "POST",
                f"{self.api}/review-tasks/{task['id']}/review",
                "review",
                headers=headers,
                json=self._review(self.grid, task, disagreeing),
            )
            if response.status_code == 409 and (recovering or not retried):
                return  # another client of this juror reviewed it
            if not (retried and response.status_code == 409):  # else the try that timed out did it
                expect(response, 200)
            clients.timer("review", t0, response)
            with lock:
                done[0] += 1

        def one(session, n, timer):
            juror = self.jurors[n % len(self.jurors)]
            headers = {"Authorization": f"Bearer {juror['token']}"}
            recovered = 0.0
            while done[0] < expected:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                response, retried = request(
                    session,
                    "POST",
                    f"{self.api}/review-tasks/claim",
                    "claim",
                    headers=headers,
                    json={"campaign_year": YEAR},
                )
                if response.status_code == 404:  # none left for this juror, others may still review
                    clients.timer("claim-none", t0, response)
                    if time.monotonic() - recovered > 5:
                        # a claim whose answer timed out is held all the same: review it
                        recovered = time.monotonic()
                        held, _ = request(
                            session,
                            "GET",
                            f"{self.api}/review-tasks",
                            "held",
                            headers=headers,
                            params={"state": "claimed", "limit": 200},
                        )
                        for task in expect(held, 200).json():
                            if task["campaign_year"] == YEAR:
                                review(session, headers, task, recovering=True)
                    time.sleep(0.2)
                    continue
                clients.timer("claim", t0, expect(response, 200))
                review(session, headers, response.json(), recovering=False)

        seconds = clients.run(self.args.clients, range(self.args.clients), one)
        claims = Stage(
            "claims", len(clients.latencies.get("claim", [])), seconds, clients.latencies.get("claim", [])
        )
        claims.target = "≤ ×1.5 / ≤ ×2"
        if claims.latencies:
            m, p = claims.median / baseline.median, claims.p99 / baseline.p99
            claims.baseline = f"×{m:.1f} / ×{p:.1f}"
            claims.met = m <= 1.5 and p <= 2 and done[0] >= expected
        none = len(clients.latencies.get("claim-none", []))
        claims.note = f"(+{none} answered 404, {self.jurors_count} jurors, {self.args.clients} clients)"
        self.add(claims)
        self.add(Stage("reviews", done[0], seconds, clients.latencies.get("review", [])))
        if done[0] < expected:
            claims.met = False
            raise Stopped(
                f"reviews: only {done[0]}/{expected} within --stage-timeout {self.args.stage_timeout:.0f} s "
                f"(claims answered 5xx and retried: {TIMEOUTS.get('claim', 0)})"
            )
        self.reviews_ended = time.perf_counter()
        self.reviews_seconds = seconds

    def proposals(self):
        proposals = self.stack.mongo("awards")["proposals"]
        expected = len(self.applicants)
        wait_for(
            "the proposals",
            lambda: proposals.count_documents({"campaign_year": YEAR}) >= expected,
            300 + expected / 5,
            interval=1,
        )
        lag = time.perf_counter() - self.reviews_ended
        stage = Stage("proposals (in awards)", expected, self.reviews_seconds + lag)
        stage.note = f"{lag:.1f} s after the last review"
        self.add(stage)

    def decisions(self):
        """The organisers decide on one application in DECIDED_EVERY, a few of
        them at once (PUT /applications/{id}/decision, with its reason): the
        deliberation pages then show decisions, read beside their rows."""
        clients = Clients()
        chosen = self.applicants[::DECIDED_EVERY]

        def one(session, applicant, timer):
            body = {"arobases": 3, "mentions": [], "reason": "Mesure de charge : décision du jury national."}
            t0 = time.perf_counter()
            response, _ = request(
                session,
                "PUT",
                f"{self.api}/applications/{YEAR}:{applicant['id']}/decision",
                "decision",
                headers=self.admin,
                json=body,
            )
            timer("decision", t0, expect(response, 200))

        seconds = clients.run(ORGANISERS_DECIDING, chosen, one)
        latencies = clients.latencies.get("decision", [])
        self.add(Stage(f"organisers' decisions (1 in {DECIDED_EVERY})", len(latencies), seconds, latencies))

    def deliberation(self):
        """The organisers deliberate once the jury's work is done: its emails
        (acknowledgements, reviews started) gone, its events handled. Read
        while the sender still drains them, a page measured that load instead:
        a 50-row console page took 560 ms (median, at a tenth of the size) where
        the jury's part of it takes 46-69 ms alone (bench_deliberation.py)."""
        import requests

        say("waiting for the jury's emails and events to leave before the deliberation")
        self.settle(600 + len(self.applicants))
        stage = Stage("deliberation pages (200 rows)", target=f"p99 ≤ {LIST_PAGE_MS} ms")
        rows = 0
        cursor = None
        started = time.perf_counter()
        with requests.Session() as session:
            while True:
                params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
                t0 = time.perf_counter()
                response = expect(
                    request(
                        session,
                        "GET",
                        f"{self.api}/campaigns/{YEAR}/deliberation",
                        "deliberation",
                        headers=self.admin,
                        params=params,
                    )[0],
                    200,
                )
                stage.latencies.append((time.perf_counter() - t0) * 1000)
                rows += len(response.json())
                cursor = response.headers.get("X-Next-Cursor")
                if not cursor:
                    break
        stage.seconds = time.perf_counter() - started
        stage.count = len(stage.latencies)
        stage.met = stage.p99 <= LIST_PAGE_MS
        stage.note = f"{rows} rows"
        if rows != len(self.applicants):
            raise SystemExit(f"deliberation: {rows} rows for {len(self.applicants)} applications")
        self.add(stage)

    def draft_exports(self):
        """An organiser downloads the draft palmarès before the release, its
        CSV then its JSON (each written out for the read, then read chunk by
        chunk: awards draft_export): this stage's peak RSS is what it costs
        the awards service and the gateway. Its count: the draft's lines."""
        import requests

        stage = Stage("organiser's draft export (CSV, JSON)")
        started = time.perf_counter()
        with requests.Session() as session:
            t0 = time.perf_counter()
            url = f"{self.api}/campaigns/{YEAR}/palmares"
            lines = expect(request(session, "GET", url + ".csv", "draft csv", headers=self.admin)[0], 200)
            stage.latencies.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            draft = expect(request(session, "GET", url, "draft json", headers=self.admin)[0], 200).json()
            stage.latencies.append((time.perf_counter() - t0) * 1000)
        stage.seconds = time.perf_counter() - started
        stage.count = lines.text.count("\r\n") - 1  # the header apart
        if stage.count != len(draft["labelled"]) or not draft["draft"]:
            raise SystemExit(f"draft export: {stage.count} CSV lines, {len(draft['labelled'])} in the JSON")
        stage.note = "lines; median, p99 of the two reads"
        self.add(stage)

    def reads_in_turn(self, name, session, reads):
        """Stage `name`: each (url, headers) of `reads` read after the other (200
        expected), against the list pages' target."""
        stage = Stage(name, target=f"p99 ≤ {LIST_PAGE_MS} ms")
        started = time.perf_counter()
        texts = []
        for url, headers in reads:
            t0 = time.perf_counter()
            response = request(session, "GET", url, name, headers=headers, allow_redirects=False)[0]
            stage.latencies.append((time.perf_counter() - t0) * 1000)
            expect(response, 200)
            texts.append(response.text)
        stage.seconds = time.perf_counter() - started
        stage.count = len(stage.latencies)
        stage.met = stage.p99 <= LIST_PAGE_MS
        self.add(stage)
        return texts

    def organiser_pages(self):
        """Each console page an organiser opens during the deliberation. A first
        read of each asks for the counts it shows (services/common/tallies.py):
        for a page whose counts were not made yet, a stage says when the first
        showed. Then, the counts made, PAGE_READS reads each: one row each. Read
        while the timer made the first counts (seconds of database work at a
        tenth of the size), a page measured that work instead, whichever page
        came next (262 ms at p99 for an application's page in one run, the
        jurors' page in another)."""
        app = f"{YEAR}:{self.applicants[len(self.applicants) // 2]['id']}"
        urls = [
            (name, self.stack.base_url + path.format(year=YEAR, app=app)) for name, path in ORGANISER_PAGES
        ]
        waiting = []
        for name, url in urls:
            since = time.perf_counter()
            if FIRST_COUNT in expect(request(self.organiser_session, "GET", url, name)[0], 200).text:
                waiting.append((name, url, since))
        for name, url, since in waiting:
            while FIRST_COUNT in request(self.organiser_session, "GET", url, name)[0].text:
                if time.perf_counter() - since > FIRST_COUNT_WAIT:
                    raise SystemExit(f"{name}: no count after {FIRST_COUNT_WAIT} s")
                time.sleep(1)
            seconds = time.perf_counter() - since
            self.add(Stage(f"first counts shown: {name}", 1, seconds, [seconds * 1000], note="by the timer"))
        for name, url in urls:
            self.reads_in_turn(f"organiser page: {name}", self.organiser_session, [(url, None)] * PAGE_READS)

    def result_reads(self):
        """Collectivités reading their result once released, as the result
        email's link leads them to (GET /applications/{id}/result)."""
        import requests

        chosen = self.applicants[:: max(1, len(self.applicants) // RESULT_READS)][:RESULT_READS]
        reads = [
            (f"{self.api}/applications/{YEAR}:{a['id']}/result", {"Authorization": f"Bearer {a['token']}"})
            for a in chosen
        ]
        with requests.Session() as session:
            self.reads_in_turn("result of one collectivité", session, reads)

    def release(self):
        import requests

        expected = len(self.applicants)
        recipients = {a["email"] for a in self.applicants}
        say("waiting for the system to settle before the release")
        self.settle(600 + expected)
        mail_dir = self.stack.mail_dir

        def names():  # the folder holds every email of the year, read each second: no Path per file
            with os.scandir(mail_dir) as entries:
                return {e.name for e in entries if e.name.endswith(".eml")}

        before = names()
        parser = BytesHeaderParser(policy=policy.default)
        seen: set[str] = set()
        results: list[datetime] = []
        stop = threading.Event()
        visitors = Clients()
        page_url = f"{self.stack.base_url}/palmares/{YEAR}"
        csv_url = f"{self.api}/campaigns/{YEAR}/palmares.csv"

        region_link = re.compile(rf'href="(/palmares/{YEAR}/[a-z0-9-]+)"')

        def visit(session, n, timer):
            # The year's page, a region's page (from the year's links), the CSV, in turn.
            k, regions = n, []
            while not stop.is_set():
                label = ("page", "region", "csv")[k % 3]
                if label == "region" and not regions:
                    label = "page"
                url = {"page": page_url, "csv": csv_url}.get(label) or self.stack.base_url + regions[
                    k % len(regions)
                ]
                k += 1
                t0 = time.perf_counter()
                response, _ = request(session, "GET", url, label)
                if response.status_code == 200:
                    timer(label, t0, response)
                    if label == "page" and not regions:
                        regions = region_link.findall(response.text)
                else:  # before the release is complete: embargoed
                    timer(label + "-not-yet", t0, response)
                    time.sleep(0.1)

        say(f"releasing the palmarès; {self.args.visitors} visitors read it meanwhile")
        released_at = datetime.now(UTC)
        t0 = time.perf_counter()
        response, _ = request(
            requests.Session(),
            "POST",
            f"{self.api}/campaigns/{YEAR}/release",
            "release",
            headers=self.admin,
            json=FORCE,
        )
        call_ms = (time.perf_counter() - t0) * 1000
        expect(response, 202)
        visitors_thread = threading.Thread(
            target=lambda: visitors.run(self.args.visitors, range(self.args.visitors), visit), daemon=True
        )
        visitors_thread.start()
        deadline = time.monotonic() + 300 + expected / 10
        while len(results) < expected:
            if time.monotonic() > deadline:
                break
            for name in sorted(names() - before - seen):
                seen.add(name)
                with open(mail_dir / name, "rb") as fh:
                    headers = parser.parse(fh)
                to = str(headers.get("To", ""))
                address = to[to.find("<") + 1 : to.rfind(">")] if "<" in to else to
                if address in recipients and str(headers.get("Subject", "")).startswith(f"Label {YEAR} :"):
                    results.append(datetime.strptime(name[:22], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC))
            time.sleep(1)  # the time measured is each file's name, not this loop's
        stop.set()
        visitors_thread.join(timeout=120)
        last = max(results) if results else datetime.now(UTC)
        seconds = (last - released_at).total_seconds()
        release = self.add(Stage("release call (POST, 202)", 1, call_ms / 1000, [call_ms]))
        emails = Stage("result emails (release → last accepted)", len(results), seconds)
        emails.target = "≥ 290/s (35,000 in ≤ 120 s)"
        emails.met = emails.rate is not None and emails.rate >= 290 and len(results) == expected
        emails.note = cpu_bound(release.cpu, len(results), seconds)
        if len(results) < expected:
            emails.note = f"ONLY {len(results)}/{expected} within the time allowed; {emails.note}"
        self.emails_stage = self.add(emails)
        pages = (
            ("page", "palmarès page (visitors)"),
            ("region", "palmarès region page (visitors)"),
            ("csv", "palmarès CSV (visitors)"),
        )
        for label, name in pages:
            lat = visitors.latencies.get(label, [])
            stage = Stage(name, len(lat), seconds, lat)
            waiting = len(visitors.latencies.get(label + "-not-yet", []))
            stage.note = f"{self.args.visitors} visitors; +{waiting} before the palmarès was out"
            if label in ("page", "region"):
                stage.target = f"p99 ≤ {LIST_PAGE_MS} ms"
                stage.met = bool(lat) and stage.p99 <= LIST_PAGE_MS
            self.add(stage)

    def smtp_alone(self):
        """The same result emails handed to the capture with no database in the way."""
        from email.policy import SMTP as SMTP_POLICY

        from services.notifications import mail
        from services.notifications.sender import Sender
        from services.notifications.settings import NotificationsSettings, SenderState

        config = service_config(SMTP_URL=f"smtp://127.0.0.1:{self.stack.smtp_port}")
        connections = int(config.get("SMTP_CONNECTIONS", 1) or 1)
        settings = NotificationsSettings.from_config(config)
        builder = Sender(None, None, None, settings, SenderState())
        docs = list(
            self.stack.mongo("notifications")["emails"]
            .find({"campaign_year": YEAR, "template": "result"}, batch_size=READ_BATCH)
            .limit(min(len(self.applicants), 5000))
        )
        messages = [(doc["recipient"], builder.message(doc).as_bytes(policy=SMTP_POLICY)) for doc in docs]
        chunks = [messages[i::connections] for i in range(connections)]

        def send(chunk):
            client = mail.connect(settings.smtp)
            try:
                for recipient, data in chunk:
                    client.sendmail("label@villes-internet.net", [recipient], data)
            finally:
                mail.close_quietly(client)

        started = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(send, chunks))
        stage = Stage(
            f"SMTP hand-off alone ({connections} conn.)", len(messages), time.perf_counter() - started
        )
        self.add(stage)
        emails = self.emails_stage
        if emails.rate and stage.rate:
            emails.baseline = f"×{emails.rate / stage.rate:.2f} of alone"
        emails.note = (emails.note + f" sender connections: {connections}").strip()

    def events(self):
        count = self.args.events or max(200, min(2000, len(self.applicants)))
        tasks = self.stack.mongo("jury")["tasks"]
        started = time.perf_counter()
        feed(self.stack, EVENTS_YEAR, count, 2)
        wait_for(
            "the lifecycle events' tasks",
            lambda: tasks.count_documents({"campaign_year": EVENTS_YEAR}) >= 2 * count,
            300 + count,
            interval=0.1,
        )
        lifecycle = Stage("lifecycle events (submitted → tasks)", count, time.perf_counter() - started)
        out = subprocess.run(
            [
                sys.executable,
                str(ROOT / "tests" / "bench" / "bare_events.py"),
                "--amqp-uri",
                self.stack.amqp_uri,
                "--count",
                str(count),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if out.returncode != 0:
            raise SystemExit(f"bare_events failed:\n{out.stderr[-2000:]}")
        rates = json.loads(out.stdout.strip().splitlines()[-1])
        lifecycle.baseline = f"{lifecycle.rate / rates['nameko'] * 100:.0f} % of nameko"
        lifecycle.target = "≥ 50 % of bare nameko"
        lifecycle.met = lifecycle.rate / rates["nameko"] >= 0.5
        lifecycle.note = f"{lifecycle.rate / rates['kombu'] * 100:.0f} % of kombu publish+consume"
        self.add(lifecycle)
        for name, key in (
            ("bare nameko events", "nameko"),
            ("kombu publish (confirms)", "kombu_publish"),
            ("kombu consume", "kombu_consume"),
            ("kombu publish+consume", "kombu"),
        ):
            self.add(Stage(name, count, count / rates[key]))

    def rss(self, peaks):
        for name in (*SERVICE_NAMES, "smtp capture", "ferretdb"):
            if name not in peaks:
                continue
            mib = peaks[name] / MIB
            stage = Stage(f"peak RSS {name} (MiB)", round(mib))
            if name in SERVICE_NAMES:
                stage.target = f"≤ {RSS_LIMIT_MIB} MiB"
                stage.met = mib <= RSS_LIMIT_MIB
            self.stages.append(stage)

    # -- the run ------------------------------------------------------------

    def run(self):
        self.register_jurors()
        self.sign_in_organiser()
        if self.args.history:
            self.load_history(self.args.history)
        with tempfile.TemporaryDirectory(prefix="bench-national-") as directory:
            self.import_collectivites(directory)
        open_campaign(self.stack, YEAR, "Paris")
        self.grid = expect(
            self.stack.http("GET", f"/api/v1/campaigns/{YEAR}", token=self.stack.admin_token), 200
        ).json()["grid"]
        self.apply()
        self.wait_tasks()
        baseline = self.baseline()
        self.claim_and_review(baseline)
        self.proposals()
        self.decisions()
        self.deliberation()
        self.draft_exports()
        self.organiser_pages()
        self.release()
        self.result_reads()
        self.smtp_alone()
        self.events()


def table(stages):
    head = ["stage", "count", "per second", "median ms", "p99 ms", "vs baseline", "target", "met?"]
    rows = [head] + [s.row() for s in stages]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for n, r in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if i == 0 or i >= 5 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cpu_table(stages):
    """CPU seconds of each process between the end of the previous stage and
    the end of this one (waits included): where the time of a stage went."""
    return per_process_table(stages, "CPU s since previous stage", lambda s: s.cpu, lambda v: f"{v:.1f}")


def rss_table(stages):
    """Each process's peak VmRSS between the end of the previous stage and the
    end of this one: which stage makes a service grow."""
    return per_process_table(
        stages, "peak RSS MiB in the stage", lambda s: s.rss_kib, lambda v: f"{v / MIB:.0f}"
    )


def per_process_table(stages, title, figures, shown):
    names = []
    for stage in stages:
        names += [n for n in figures(stage) if n not in names]
    short = {"smtp capture": "smtp", "notifications": "notif.", "bench clients": "clients"}
    head = [title, *(short.get(n, n) for n in names)]
    rows = [head] + [[s.name, *(shown(figures(s).get(n, 0)) for n in names)] for s in stages if figures(s)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="35,000 × SCALE collectivités")
    parser.add_argument("--history", type=int, default=5, help="earlier national campaigns loaded first")
    parser.add_argument("--clients", type=int, default=30, help="concurrent clients (applications, jurors)")
    parser.add_argument("--visitors", type=int, default=50, help="concurrent palmarès readers")
    parser.add_argument("--json", help="also write the stages as JSON to this file")
    parser.add_argument(
        "--stage-timeout",
        type=float,
        help="seconds a stage may take before the run stops (1,800 up to scale 0.1, in proportion above)",
    )
    parser.add_argument("--events", type=int, default=0, help="lifecycle events (default: 200..2000)")
    parser.add_argument("--out", help="the table's file (default var/bench/national-<backend>-<scale>.txt)")
    args = parser.parse_args()
    # Started in the background (`make bench-national … &`), the process inherits
    # SIGINT ignored: take it back, so a SIGINT still stops the run with its table.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.stage_timeout is None:
        args.stage_timeout = max(1800.0, 18000.0 * args.scale)

    amqp = os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    api = f"http://{urlsplit(amqp).hostname or '127.0.0.1'}:15672"
    uri, ferret = private_ferretdb("bench-national-")
    backend = ferret.backend if ferret else "external"
    described = ferret.describe() if ferret else uri
    say(f"MongoDB: {described}; backend: {backend}; scale {args.scale}; history {args.history}")
    stack = Stack(amqp, uri, rabbit_api=api, extra_env={"REVIEW_DIGEST_SECONDS": "3600"})
    say(f"starting the stack (logs in {stack.log_dir}) ...")
    sampler = None
    bench = None
    stopped = ""
    started = time.monotonic()
    try:
        stack.start_all()

        def pids():
            found = {name: stack.pid(name) for name in SERVICE_NAMES}
            found["smtp capture"] = stack.smtp_pid()
            if ferret is not None and ferret.proc is not None:
                found["ferretdb"] = ferret.proc.pid
            if ferret is not None and ferret.cluster is not None:
                found["postgresql"] = ferret.cluster.postmaster_pid()  # its CPU counts its backends'
            return found

        sampler = RssSampler(pids)
        sampler.start()
        bench = National(stack, args)
        bench.sampler = sampler
        bench._cpu = bench.cpu_so_far()
        try:
            bench.run()
        except Stopped as exc:
            stopped = str(exc)
            say(f"STOPPED: {stopped}")
        except KeyboardInterrupt:  # the stages measured so far are still worth their table
            stopped = "interrupted (SIGINT)"
            say(f"STOPPED: {stopped}")
        except Exception as exc:  # so is a run the bench itself broke: its table, then the traceback
            stopped = f"failed: {exc!r}"
            say(f"STOPPED: {stopped}")
            traceback.print_exc()
    finally:
        peaks = sampler.stop() if sampler else {}
        stack.stop_all(drop_databases=ferret is None)  # a private FerretDB goes whole
        if ferret is not None:
            ferret.close()
    bench.rss(peaks)
    header = (
        f"make bench-national: scale {args.scale} ({bench.count} collectivités, {bench.jurors_count} jurors, "
        f"{args.clients} clients, {args.visitors} visitors), history {args.history} campaigns; "
        f"MongoDB {described}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; run {time.monotonic() - started:.0f} s"
    )
    if TIMEOUTS:
        header += "\nretried after a 5xx or no answer (gateway timeouts): " + ", ".join(
            f"{label} {n}" for label, n in sorted(TIMEOUTS.items())
        )
    if stopped:
        header += f"\nSTOPPED before the end: {stopped}"
    text = "\n\n".join(
        [header + "\n" + table(bench.stages), cpu_table(bench.stages), rss_table(bench.stages)]
    )
    print("\n" + text)
    out = Path(args.out) if args.out else ROOT / "var" / "bench" / f"national-{backend}-{args.scale:g}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"\nwritten to {out}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "count": bench.count,
                    "jurors": bench.jurors_count,
                    "disagreeing": len(bench.disagreeing),
                    "stages": [s.as_json() for s in bench.stages],
                    "rss_kib": peaks,
                    "stopped": stopped,
                },
                indent=1,
            )
        )
    if stopped:
        sys.exit(1)


if __name__ == "__main__":
    main()
