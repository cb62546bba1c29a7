"""The fault suite's workload: a campaign whose applications move through the
lifecycle over the public HTTP API (sign-up, draft, submission, claim, review,
release, result emails), as tests/e2e and tests/bench drive it, with clients
that retry through an outage the way a browser user would (a 409 that means
"already done" is read back, not counted twice); then the comparison of what
should exist with what does."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesHeaderParser

import requests

from services.common import deadletters
from services.common.reference import REGION_OF_DEPARTMENT, region_name

JUROR_DEPARTMENTS = ("75", "69")
# Applicants come from other departments than the jurors' (no conflict of interest).
DEPARTMENTS = [d for d in sorted(REGION_OF_DEPARTMENT) if len(d) == 2 and d not in JUROR_DEPARTMENTS][:60]
EXPECTED_TEMPLATES = ("application_acknowledged", "review_started", "result")
# a juror gets one digest per batch of new tasks: several per campaign, by design
# (each batch's once is the ledger's; a copy of one still counts, by Message-ID)
REPEATED_TEMPLATES = ("juror_digest",)


class WorkloadError(AssertionError):
    pass


def iso(moment):
    return moment.isoformat()


@dataclass
class Applicant:
    number: int
    insee: str
    department: str
    email: str
    token: str = ""
    collectivite_id: str = ""
    application_id: str = ""


@dataclass
class Outcome:
    done: dict = field(default_factory=dict)
    lost: dict = field(default_factory=dict)
    duplicated: dict = field(default_factory=dict)
    early: int = 0
    resent_after_kill: int = 0  # copies in the sender's crash window (sender.py): same Message-ID

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())

    @property
    def duplicated_total(self) -> int:
        return sum(self.duplicated.values())

    def work(self) -> str:
        d = self.done
        text = f"{d.get('applications', 0)} app. · {d.get('proposals', 0)} prop. · {d.get('mails', 0)} mails"
        text += f" · {d['refused']} refused" if d.get("refused") else ""
        if self.resent_after_kill:
            text += f" · {self.resent_after_kill} resent after the kill -9 (same Message-ID)"
        return text


class Workload:
    def __init__(
        self,
        stack,
        count: int,
        year: int = 2101,
        jurors: int = 6,
        workers: int = 6,
        seed: int = 1,
        close_in: float | None = None,
        release_after_close: float | None = None,
    ):
        self.stack = stack
        self.count = count
        self.year = year
        self.jurors_count = jurors
        self.workers = workers
        self.rng = random.Random(seed)
        self.admin = stack.admin_token
        self.applicants: list[Applicant] = []
        self.jurors: list[dict] = []
        self.grid: dict = {}
        self.released_at: datetime | None = None
        self.calls = Counter()
        self.progress = Counter()  # what the workload has done: the faults' moments
        self._stop = threading.Event()
        # close_in: the submissions close that many seconds after setup() began, and
        # every collectivité submits at that very second (see run())
        self.close_in = close_in
        # release_after_close: the submissions close that many seconds after setup()
        # began, everyone submits as usual, and the release waits for the close (so
        # that the deliberation becomes ready before it, as on a real campaign)
        self.release_after_close = release_after_close
        self.closes_at: datetime | None = None
        self.refused: set[str] = set()  # application ids refused for the deadline
        self.excused: set[tuple[str, str]] = set()  # (template, recipient) meant to fail
        self.outsiders: set[str] = set()  # application ids a scenario adds beside the workload's

    # -- HTTP with the patience of a user ----------------------------------------

    def call(self, method, path, token=None, json=None, accept=(200,), settle=None, timeout=300):
        """The response once its status is in `accept`; `settle(response)` may
        turn a 409 into a value (the work was done by an earlier try). Retries
        while the system is unreachable or answers 5xx / release_in_progress."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                response = self.stack.http(method, path, token=token, json=json, timeout=30)
            except requests.RequestException:
                response = None
            if response is not None:
                self.calls[response.status_code] += 1
                if response.status_code in accept:
                    return response
                if settle is not None:
                    settled = settle(response)
                    if settled is not None:
                        return settled
                code = _error_code(response)
                if response.status_code < 500 and code not in ("release_in_progress", "concurrent_change"):
                    raise WorkloadError(f"{method} {path}: {response.status_code} {response.text[:300]}")
            else:
                self.calls["unreachable"] += 1
            if time.monotonic() > deadline:
                raise WorkloadError(f"{method} {path}: no answer within {timeout}s")
            time.sleep(0.3)

    # -- phases -----------------------------------------------------------------

    def setup(self) -> None:
        """A campaign open for submissions, the collectivités signed up, the jurors registered."""
        now = datetime.now(UTC)
        close_in = self.close_in or self.release_after_close
        close = now + (timedelta(seconds=close_in) if close_in else timedelta(hours=6))
        self.closes_at = close
        self.call(
            "POST",
            "/api/v1/campaigns",
            token=self.admin,
            json={
                "year": self.year,
                "title": f"Label {self.year} (pannes)",
                "submissions_open_at": iso(now - timedelta(hours=1)),
                "submissions_close_at": iso(close),
                "ceremony_at": iso(now + timedelta(days=30)),
                "ceremony_place": "Lille",
                "reviews_per_application": 1,
            },
            accept=(201,),
        )
        self.grid = self.call("GET", f"/api/v1/campaigns/{self.year}", token=self.admin).json()["grid"]
        self.applicants = [self._applicant(n) for n in range(self.count)]
        self._parallel(self._sign_up, self.applicants)
        for n in range(self.jurors_count):
            juror = self.call(
                "POST",
                "/api/v1/jurors",
                token=self.admin,
                json={
                    "name": f"Juré {n}",
                    "email": f"jure{n}-{self.year}@pannes.example.fr",
                    "department": JUROR_DEPARTMENTS[n % 2],
                },
                accept=(201,),
            ).json()
            self.jurors.append(juror)

    @staticmethod
    def _applicant(n: int) -> Applicant:
        dep = DEPARTMENTS[n % len(DEPARTMENTS)]
        insee = f"{dep}{n // len(DEPARTMENTS) + 100:03d}"
        return Applicant(n, insee, dep, f"mairie-{insee}@pannes.example.fr")

    def outsider(self) -> Applicant:
        """A collectivité beside the workload's, signed up, its draft written and
        left unsubmitted; the comparison leaves it out."""
        a = self._applicant(self.count + len(self.outsiders))
        self._sign_up(a)
        self._draft(a)
        self.outsiders.add(a.application_id)
        return a

    def _sign_up(self, a: Applicant) -> None:
        body = self.call(
            "POST",
            "/api/v1/collectivites",
            json={
                "insee_code": a.insee,
                "name": f"Commune {a.insee}",
                "kind": "commune",
                "population": 1000 + a.number,
                "region": region_name(REGION_OF_DEPARTMENT[a.department]),
                "department": a.department,
                "email": a.email,
            },
            token=self.stack.admin_token,  # trusted: confirmed at once, as labelctl import does
            accept=(201,),
        ).json()
        a.token, a.collectivite_id = body["token"], body["id"]

    def apply_all(self) -> None:
        """Every collectivité writes its draft and submits it."""
        self._parallel(self._apply, self.applicants)

    def _apply(self, a: Applicant) -> None:
        self._draft(a)
        self._submit(a)

    def _draft(self, a: Applicant) -> None:
        enjeu = self.grid["enjeux"][a.number % len(self.grid["enjeux"])]
        a.application_id = f"{self.year}:{a.collectivite_id}"

        def exists(response):
            return response if _error_code(response) == "application_exists" else None

        self.call(
            "POST",
            "/api/v1/applications",
            token=a.token,
            json={
                "campaign_year": self.year,
                "services": [s["code"] for s in enjeu["services"][:2]],
                "initiatives": [
                    {"title": "Médiation numérique", "enjeu": enjeu["code"], "description": "Ateliers."}
                ],
            },
            accept=(201,),
            settle=exists,
        )

    def _submit(self, a: Applicant) -> None:
        def already(response):
            if response.status_code != 409:
                return None
            if _error_code(response) == "deadline_passed":
                self.refused.add(a.application_id)
                return response
            current = self.call("GET", f"/api/v1/applications/{a.application_id}", token=a.token).json()
            return response if current["state"] == "submitted" else None

        self.call("POST", f"/api/v1/applications/{a.application_id}/submit", token=a.token, settle=already)
        self.progress["submitted"] += 1

    def review_all(self, timeout: float = 400) -> None:
        """The jurors claim and review until every application has its proposal."""
        deadline = time.monotonic() + timeout
        errors: list[BaseException] = []

        def juror_loop(juror):
            try:
                while not self._stop.is_set() and time.monotonic() < deadline:
                    response = self.call(
                        "POST",
                        "/api/v1/review-tasks/claim",
                        token=juror["token"],
                        json={"campaign_year": self.year},
                        accept=(200, 404),
                    )
                    if response.status_code == 404:
                        if self.proposals() >= self.expected_count:
                            return
                        time.sleep(0.5)
                        continue
                    task = response.json()
                    level = self.level(task["application_id"])
                    self.call(
                        "POST",
                        f"/api/v1/review-tasks/{task['id']}/review",
                        token=juror["token"],
                        json={
                            "scores": {e["code"]: 3 for e in self.grid["enjeux"]},
                            "arobases": level,
                            "mentions": [],
                            "comment": "Démarche solide.",
                        },
                        # 409: an earlier try was recorded, or the claim lapsed (the task returns)
                        settle=lambda r: r if r.status_code == 409 else None,
                    )
                    self.progress["reviewed"] += 1
            except BaseException as exc:  # reported by the caller
                errors.append(exc)

        threads = [threading.Thread(target=juror_loop, args=(j,), daemon=True) for j in self.jurors]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        if self.proposals() < self.expected_count:
            raise WorkloadError(f"{self.proposals()}/{self.expected_count} proposals within {timeout}s")

    @property
    def expected_count(self) -> int:
        """Applications that should go all the way (the deadline refuses some)."""
        return self.count - len(self.refused)

    def submit_at_the_deadline(self) -> None:
        """Every draft written, then every submission fired together, half a
        second either side of the closing second."""
        self._parallel(self._draft, self.applicants)
        assert self.closes_at is not None
        wait = (self.closes_at - datetime.now(UTC)).total_seconds() - 0.5
        if wait < 0:
            raise WorkloadError(f"the drafts took too long: the deadline passed {-wait:.0f} s ago")
        time.sleep(wait)
        with ThreadPoolExecutor(len(self.applicants)) as pool:
            for future in [pool.submit(self._submit, a) for a in self.applicants]:
                future.result()
        if not self.refused or len(self.refused) == self.count:
            raise WorkloadError(f"{len(self.refused)} of {self.count} refused: not at the deadline second")

    def level(self, application_id: str) -> int:
        return sum(map(ord, application_id)) % 5 + 1

    def release(self) -> None:
        self.released_at = datetime.now(UTC)
        self.call(
            "POST",
            f"/api/v1/campaigns/{self.year}/release",
            token=self.admin,
            json={"force": True, "reason": "Essai de pannes : publication avant la clôture."},
            accept=(202,),
        )

    def run(self) -> None:
        if self.close_in:
            self.submit_at_the_deadline()
        else:
            self.apply_all()
        self.review_all()
        if self.release_after_close:
            assert self.closes_at is not None
            time.sleep(max((self.closes_at - datetime.now(UTC)).total_seconds() + 1, 0))
        self.release()

    # -- what exists ------------------------------------------------------------

    def result_mails(self) -> int:
        """Result emails sent so far (0 while the database is unreachable)."""
        try:
            emails = self.stack.mongo("notifications")["emails"]
            return emails.count_documents({"campaign_year": self.year, "template": "result", "state": "sent"})
        except Exception:
            return 0

    def proposals(self) -> int:
        try:
            return self.stack.mongo("awards")["proposals"].count_documents({"campaign_year": self.year})
        except Exception:
            return 0

    def _resent_after_kill(self, copies, emails):
        """Second copies that the sender's documented crash window explains: the
        email's attempt by a notifications process killed -9 has no outcome (SMTP
        had accepted the message, the process died before recording it), so the
        attempt after its lease sent the same message again. Bounded by the
        caller: at most one per connection of each process killed."""
        killed = {pid for service, pid in self.stack.killed if service == "notifications"}
        if not killed:
            return 0
        attempts = self.stack.mongo("notifications")["send_attempts"]
        explained = 0
        for mid, count in copies.items():
            if count < 2:
                continue
            for attempt in attempts.find({"email_id": emails[mid]["_id"]}):
                if int(attempt["owner"].rsplit(":", 1)[1]) in killed and not attempt.get("outcome"):
                    explained += 1
                    break
        return explained

    def check(self) -> Outcome:
        """Compares what should exist with what does."""
        out = Outcome()
        apps = {
            doc["_id"]: doc.get("state")
            for doc in self.stack.mongo("submissions")["applications"].find(
                {"campaign_year": self.year}, {"state": 1}
            )
        }
        accepted = [a for a in self.applicants if a.application_id not in self.refused]
        refused = [a for a in self.applicants if a.application_id in self.refused]
        submitted = sum(1 for a in accepted if apps.get(a.application_id) == "submitted")
        # a refusal leaves a draft, and nothing downstream
        wrongly = sum(1 for a in refused if apps.get(a.application_id) != "draft")
        jury_apps = {
            doc["_id"]
            for doc in self.stack.mongo("jury")["applications"].find({"campaign_year": self.year}, {"_id": 1})
        }
        wrongly += sum(1 for a in refused if a.application_id in jury_apps)
        proposals = self.proposals()
        release = self.stack.mongo("awards")["releases"].find_one({"_id": self.year}) or {}
        emails = {
            doc["message_id"]: doc
            for doc in self.stack.mongo("notifications")["emails"].find(
                {"campaign_year": self.year}, {"message_id": 1, "template": 1, "recipient": 1}
            )
        }
        copies: Counter = Counter()
        per_kind: dict[tuple, set] = {}
        early = 0
        parser = BytesHeaderParser(policy=policy.default)
        for path in self.stack.mail.files():
            with open(path, "rb") as fh:
                headers = parser.parse(fh)
            mid = str(headers.get("Message-ID", ""))
            doc = emails.get(mid)
            if doc is None:
                continue  # not this campaign's (welcome emails, organisers' digests)
            copies[mid] += 1
            per_kind.setdefault((doc["template"], doc["recipient"]), set()).add(mid)
            if doc["template"] == "result" and self.released_at is not None:
                stamp = datetime.strptime(path.name[:22], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
                if stamp < self.released_at:
                    early += 1  # the capture names files by arrival time (UTC)
        delivered_expected = 0
        lost_mail = 0
        for a in accepted:
            for template in EXPECTED_TEMPLATES:
                if (template, a.email) in self.excused:
                    continue  # checked by its scenario
                if per_kind.get((template, a.email)):
                    delivered_expected += 1
                else:
                    lost_mail += 1
        for a in refused:
            wrongly += sum(len(per_kind.get((template, a.email), ())) for template in EXPECTED_TEMPLATES)
        letters = deadletters.peek(self.stack.amqp_uri, 1000)
        out.done = {
            "applications": submitted,
            "proposals": proposals,
            "mails": delivered_expected,
            "released": bool(release.get("complete")),
            "refused": len(refused),
        }
        out.lost = {
            "applications": len(accepted) - submitted,
            "proposals": max(len(accepted) - proposals, 0),
            "mails": lost_mail,
            "dead_letters": len(letters),
            "release": 0 if release.get("complete") else 1,
        }
        out.resent_after_kill = self._resent_after_kill(copies, emails)
        out.duplicated = {
            "copies": sum(n - 1 for n in copies.values()) - out.resent_after_kill,
            "emails": sum(
                len(mids) - 1 for (kind, _), mids in per_kind.items() if kind not in REPEATED_TEMPLATES
            ),
            "applications": max(len(set(apps) - self.outsiders) - self.count, 0),
            "refused_but_processed": wrongly,
        }
        out.early = early
        return out

    def wait_converged(self, timeout: float = 300) -> Outcome:
        deadline = time.monotonic() + timeout
        while True:
            outcome = self.check()
            if outcome.lost_total == 0 or time.monotonic() > deadline:
                return outcome
            time.sleep(1)

    # -- helpers ----------------------------------------------------------------

    def _parallel(self, fn, items) -> None:
        with ThreadPoolExecutor(self.workers) as pool:
            for future in [pool.submit(fn, item) for item in items]:
                future.result()


def _error_code(response) -> str | None:
    try:
        return (response.json().get("error") or {}).get("code")
    except Exception:
        return None
