"""`labelctl demo`: plays the seed articles' campaigns on the running system,
through the public API only: one campaign per year the articles report
(2016, 2017, 2019: kept apart, never mixed), sign-ups (the collectivités the
articles name, plus generated ones), applications, jurors claiming and
reviewing, the organisers' decisions, the releases in year order, and the
result emails.

A collectivité applies in each year an article names it, with the level and
mentions the article reports; what no article reports (most levels, a few
mentions) is invented and said so, in the data (`arobases_reported`,
`mentions_reported`) and in the demo's output.

Collectivités are unique by INSEE code across campaigns, so a second demo
finds them already signed up (409) and needs their tokens: the demo keeps
them in a small state file (--state-dir) keyed by API address.
"""

import json
import os
import random
import threading
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from labelctl.client import ApiError
from services.common.reference import REGION_OF_DEPARTMENT, region_name

# Jurors come from departments no demo collectivité is in, so every juror may review every application.
JUROR_DEPARTMENTS = ["48", "23", "15", "90", "04", "2A", "05", "09", "36", "52"]
JUROR_NAMES = [
    "Florence Durand",
    "Jean-Marc Leroy",
    "Aïcha Benali",
    "Pierre Le Goff",
    "Nathalie Costa",
    "Yves Morvan",
    "Claire Dubois",
    "Karim Haddad",
    "Sophie Martin",
    "Luc Bertrand",
]
GENERATED_PREFIXES = [
    "Saint-Aubin",
    "Villeneuve",
    "Montfort",
    "Beaulieu",
    "Champagnac",
    "Rochefort",
    "Belleville",
    "Fontaine",
    "Sainte-Colombe",
    "Mont-Rivel",
    "Val-Fleury",
    "Chênedouit",
]
GENERATED_SUFFIXES = ["sur-Loire", "les-Bois", "en-Vallée", "la-Forêt", "du-Lac", "sur-Mer", "les-Vignes"]
GENERATED_DEPARTMENTS = [
    "01",
    "14",
    "17",
    "21",
    "29",
    "31",
    "33",
    "34",
    "44",
    "45",
    "57",
    "63",
    "67",
    "69",
    "80",
    "83",
    "86",
    "87",
    "974",
]
POLL_SECONDS = 1.0
# What a collectivité's application takes from its seed year (seed_campaigns).
SEED_YEAR_FIELDS = ("seed_year", "source", "arobases", "arobases_reported", "mentions", "mentions_reported")


class DemoFailed(Exception):
    pass


def recipient_address(mail):
    recipient = mail.get("recipient") or mail.get("to")
    if isinstance(recipient, dict):
        return recipient.get("email") or recipient.get("address")
    if isinstance(recipient, list) and recipient:
        return recipient_address({"recipient": recipient[0]})
    return recipient


def fold(text):
    """Lower-case ASCII, for matching labels ('Réseaux sociaux' ~ 'réseau social')."""
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return " ".join(word.rstrip("sx")[:8] for word in text.replace("-", " ").split())


def slug(text):
    """A slug for host names and paths:
    'Communauté d'agglomération La Riviera' → 'communaute-d-agglomeration-la-riviera'."""
    text = (
        unicodedata.normalize("NFKD", (text or "").replace("œ", "oe"))
        .encode("ascii", "ignore")
        .decode()
        .lower()
    )
    return "-".join("".join(ch if ch.isalnum() else " " for ch in text).split())


def load_seed_collectivites():
    data = resources.files("labelctl.data").joinpath("demo_collectivites.json").read_text("utf-8")
    return json.loads(data)["collectivites"]


def seed_years(collectivites):
    """The years the seed articles report, in order."""
    return sorted({campaign["year"] for c in collectivites for campaign in c["campaigns"]})


def seed_campaigns(collectivites):
    """{seed year: [the collectivité as it applies that year: arobases, mentions,
    source, arobases_reported, mentions_reported]}: one campaign per seed year."""
    plan = {year: [] for year in seed_years(collectivites)}
    for c in collectivites:
        base = {k: v for k, v in c.items() if k != "campaigns"}
        for campaign in c["campaigns"]:
            plan[campaign["year"]].append(
                dict(
                    base,
                    seed_year=campaign["year"],
                    source=campaign["source"],
                    arobases=campaign["arobases"],
                    arobases_reported=campaign["arobases_reported"],
                    mentions=list(campaign["mentions"]),
                    mentions_reported=campaign["mentions_reported"],
                )
            )
    return plan


def campaign_years(years, first=None, used=()):
    """{seed year: campaign year}. With `first`, the first seed year becomes
    `first` and the others keep their distance (2016, 2017, 2019 → Y, Y+1, Y+3);
    without, the seed years themselves when free, else the first free block."""
    if not years:
        return {}
    start = first if first is not None else years[0]
    if first is None:
        while any(start + (y - years[0]) in used for y in years):
            start += 1
    return {y: start + (y - years[0]) for y in years}


def invented_note(c):
    """What the demo invents for this collectivité and year ('' when all is reported)."""
    parts = []
    if not c.get("arobases_reported", False):
        parts.append("niveau inventé")
    if c.get("mentions") and not c.get("mentions_reported", False):
        parts.append("mention inventée")
    return ", ".join(parts)


def default_state_dir():
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return os.path.join(base, "labelctl")


class TokenStore:
    """INSEE code → {id, token} of the collectivités this demo signed up, per API."""

    def __init__(self, state_dir, base_url):
        host = urlsplit(base_url).netloc.replace(":", "_") or "api"
        self.path = Path(state_dir or default_state_dir()) / f"demo-{host}.json"
        self._lock = threading.Lock()
        try:
            self.data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            self.data = {}

    def get(self, code):
        return self.data.get(code)

    def put(self, code, value):
        with self._lock:
            self.data[code] = value
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(self.data, indent=1), "utf-8")
                tmp.replace(self.path)
            except OSError:
                pass  # the demo still runs; only a replay would miss the token


class Demo:
    def __init__(
        self,
        api,
        echo=print,
        year=None,
        generated=12,
        jurors=6,
        close_in=180,
        ceremony_in=240,
        timeout=300,
        state_dir=None,
        seed=None,
        workers=6,
        exclude=(),
    ):
        self.api, self.echo = api, echo
        self.year = year
        self.generated = generated
        self.juror_count = max(2, min(jurors, len(JUROR_DEPARTMENTS)))
        self.close_in, self.ceremony_in = close_in, max(ceremony_in, close_in)
        self.timeout = timeout
        self.store = TokenStore(state_dir, api.base_url)
        self.rng = random.Random(seed)
        self.workers = workers
        self.exclude = set(exclude)
        self.problems = []
        self._lock = threading.Lock()
        self.started = time.monotonic()

    # -- helpers ----------------------------------------------------------

    def say(self, text):
        elapsed = time.monotonic() - self.started
        self.echo(f"[{elapsed:4.0f} s] {text}" if text else "")

    def problem(self, text):
        with self._lock:
            self.problems.append(text)
        self.echo(f"  ! {text}")

    def wait_for(self, what, predicate, timeout=None, interval=POLL_SECONDS):
        deadline = time.monotonic() + (timeout or self.timeout)
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise DemoFailed(f"délai dépassé en attendant : {what}")

    # -- steps ------------------------------------------------------------

    def run(self):
        started = self.started = time.monotonic()
        self.check_health()
        seeds = [c for c in load_seed_collectivites() if c["insee_code"] not in self.exclude]
        plan = seed_campaigns(seeds)
        years = self.campaign_years(sorted(plan))
        campaigns = {seed: self.create_campaign(year, seed) for seed, year in years.items()}
        for seed, campaign in campaigns.items():
            if not (campaign.get("grid") or {}).get("enjeux"):
                raise DemoFailed(
                    f"la campagne {years[seed]} n'a pas de grille d'évaluation (grid.enjeux vide)"
                )
        signed = {c["insee_code"]: c for c in self.sign_up_all(seeds)}
        applications = {}
        for seed, year in years.items():
            campaign = campaigns[seed]
            enjeux, mentions = campaign["grid"]["enjeux"], campaign.get("mentions") or []
            taking_part = [
                dict(signed[c["insee_code"]], **{k: c[k] for k in SEED_YEAR_FIELDS})
                for c in plan[seed]
                if c["insee_code"] in signed
            ]
            # Generated collectivités are shared out between the campaigns.
            generated = [c for c in signed.values() if c.get("generated")]
            index = sorted(years).index(seed)
            taking_part += [dict(c, seed_year=seed) for c in generated[index :: len(years)]]
            found = self.apply_all(year, taking_part, enjeux, mentions)
            applications.update(found)
        if not applications:
            raise DemoFailed("aucune candidature n'a pu être déposée")
        jurors = self.register_jurors(years[min(years)])
        enjeux_by_year = {year: campaigns[seed]["grid"]["enjeux"] for seed, year in years.items()}
        self.review_all(list(years.values()), jurors, applications, enjeux_by_year)
        palmares = {}
        for year in sorted(years.values()):  # in order: a year's progression reads the years before
            mine = {k: a for k, a in applications.items() if a["campaign_year"] == year}
            self.decide(year, mine)
            self.moderate(year, mine)
            before = self.outbox_ids()
            self.release(year)
            palmares[year] = self.wait_palmares(year)
            self.wait_result_emails(year, mine, before)
        self.conclude(years, palmares, applications, time.monotonic() - started)
        if self.problems:
            raise DemoFailed(
                f"{len(self.problems)} incidents (voir ci-dessus) ; "
                f"palmarès {', '.join(str(y) for y in sorted(palmares))} publiés"
            )
        return {
            "years": years,
            "palmares": palmares,
            "applications": applications,
            "problems": self.problems,
        }

    def campaign_years(self, seeds):
        used = {
            int(c.get("year")) for c in (self.api.get("/campaigns") or []) if str(c.get("year", "")).isdigit()
        }
        years = campaign_years(seeds, self.year, used)
        taken = sorted(y for y in years.values() if y in used)
        if taken:
            raise DemoFailed(f"les campagnes {', '.join(map(str, taken))} existent déjà : choisissez --year")
        return years

    def check_health(self):
        def healthy():
            try:
                response = self.api.raw("GET", "/health")
            except ApiError:
                return False
            return response.status_code == 200

        self.say(f"Système : {self.api.base_url}")
        try:
            self.wait_for("la santé du système (/health)", healthy, timeout=min(self.timeout, 60))
        except DemoFailed:
            response = self.api.raw("GET", "/health")
            raise DemoFailed(
                f"le système n'est pas en bonne santé : {response.status_code} {response.text[:300]}"
            ) from None

    def create_campaign(self, year, seed_year=None):
        now = datetime.now(UTC).replace(microsecond=0)
        seed_year = seed_year or year
        body = {
            "year": year,
            "title": f"Label Territoires, Villes et Villages Internet {year} "
            f"(démonstration, d'après les articles de {seed_year})",
            "submissions_open_at": (now - timedelta(minutes=1)).isoformat(),
            "submissions_close_at": (now + timedelta(seconds=self.close_in)).isoformat(),
            "ceremony_at": (now + timedelta(seconds=self.ceremony_in)).isoformat(),
            "ceremony_place": "Lille",
        }
        campaign = self.api.post("/campaigns", body)
        if not campaign.get("grid"):
            campaign = self.api.get(f"/campaigns/{year}")
        enjeux = (campaign.get("grid") or {}).get("enjeux") or []
        self.say(
            f"Campagne de démonstration {year}, d'après les articles de {seed_year} "
            f"(candidatures jusqu'à {body['submissions_close_at']}, "
            f"cérémonie {body['ceremony_at']} à Lille ; grille de {len(enjeux)} enjeux, "
            f"{len(campaign.get('mentions') or [])} mentions)"
        )
        return campaign

    # sign-ups

    def generated_candidates(self):
        used = {c["insee_code"] for c in load_seed_collectivites()}
        for _attempt in range(self.generated * 10):
            dep = self.rng.choice(GENERATED_DEPARTMENTS)
            code = dep + f"{self.rng.randint(900 if len(dep) == 2 else 90, 999 if len(dep) == 2 else 99)}"
            if code in used:
                continue
            used.add(code)
            village = self.rng.random() < 0.45
            population = self.rng.randint(150, 3400) if village else self.rng.randint(4000, 90000)
            name = f"{self.rng.choice(GENERATED_PREFIXES)}-{self.rng.choice(GENERATED_SUFFIXES)}"
            yield {
                "insee_code": code,
                "name": name,
                "kind": "commune",
                "department": dep,
                "region_code": REGION_OF_DEPARTMENT[dep],
                "population": population,
                "email": f"mairie-{code}@{slug(name)}.villes-internet.example",
                "arobases": self.rng.choice([1, 2, 2, 3, 3, 4])
                if village
                else self.rng.choice([2, 3, 3, 4, 4, 5]),
                "mentions": [],
                "initiatives": [],
                "generated": True,
                "arobases_reported": False,
                "mentions_reported": False,
                "source": None,
            }

    def sign_up(self, c):
        """The collectivité with its id and token, or None when it cannot take part."""
        payload = {
            "insee_code": c["insee_code"],
            "name": c["name"],
            "kind": c["kind"],
            "population": c["population"],
            "region": region_name(c["region_code"]),
            "department": c["department"],
            "email": c["email"],
        }
        if c["kind"] == "epci":
            payload["member_communes"] = c.get("member_communes", [])
        # As an organiser: trusted, so no rate limit (and the token still comes back).
        response = self.api.raw("POST", "/collectivites", json=payload)
        if response.status_code == 201:
            body = response.json()
            self.store.put(c["insee_code"], {"id": body.get("id"), "token": body.get("token")})
            return dict(c, id=body.get("id"), token=body.get("token"), category=body.get("category"))
        if response.status_code == 409:
            known = self.store.get(c["insee_code"])
            if known and known.get("token"):
                return dict(c, id=known.get("id"), token=known["token"], category=None, known=True)
            if not c.get("generated"):
                self.problem(
                    f"{c['name']} ({c['insee_code']}) est déjà inscrite et son jeton n'est pas "
                    f"dans {self.store.path} : elle ne participe pas"
                )
            return None
        self.problem(f"inscription de {c['name']} refusée : {ApiError.from_response(response).french()}")
        return None

    def sign_up_all(self, seeds):
        with ThreadPoolExecutor(self.workers) as pool:
            done = [c for c in pool.map(self.sign_up, seeds) if c]
        generated = []
        for candidate in self.generated_candidates():
            if len(generated) >= self.generated:
                break
            c = self.sign_up(candidate)
            if c:
                generated.append(c)
        known = sum(1 for c in done + generated if c.get("known"))
        self.say(
            f"Collectivités : {len(done)} des articles (sur {len(seeds)}) et {len(generated)} générées"
            + (f" ({known} déjà inscrites, jetons retrouvés)" if known else "")
        )
        return done + generated

    # applications

    def pick_enjeu(self, enjeux, hint):
        wanted = fold(hint)[:5]
        for enjeu in enjeux:
            if wanted and wanted in fold(enjeu.get("label", "") + " " + enjeu.get("code", "")):
                return enjeu
        return self.rng.choice(enjeux)

    def mention_codes(self, labels, mentions):
        """The campaign's mention codes for the labels of the articles
        (fuzzy: 'réseau social' ~ 'Réseaux sociaux')."""
        codes = []
        for label in labels:
            key = fold(label)
            exact = [m for m in mentions if key in (fold(m.get("label", "")), fold(m.get("code", "")))]
            loose = [m for m in mentions if key and fold(m.get("label", "")).startswith(key.split()[0])]
            if exact or loose:
                codes.append((exact or loose)[0]["code"])
        return codes

    def application_body(self, year, c, enjeux):
        services = [s["code"] for e in enjeux for s in (e.get("services") or [])]
        share = 0.15 + 0.5 * min(c["population"], 150000) / 150000  # larger communes run more services
        chosen = sorted(self.rng.sample(services, max(1, int(len(services) * share)))) if services else []
        initiatives = []
        for ini in c.get("initiatives") or []:
            enjeu = self.pick_enjeu(enjeux, ini.get("enjeu_hint", ""))
            initiatives.append(
                {"title": ini["title"], "enjeu": enjeu["code"], "description": ini["description"]}
            )
        for enjeu in self.rng.sample(enjeux, min(len(enjeux), 2)):
            initiatives.append(
                {
                    "title": f"{enjeu.get('label', enjeu['code'])} à {c['name']}",
                    "enjeu": enjeu["code"],
                    "description": f"Action de {c['name']} pour l'enjeu "
                    f"« {enjeu.get('label', enjeu['code'])} ».",
                    "url": f"https://www.{slug(c['name'])}.example/numerique",
                }
            )
        return {"campaign_year": year, "services": chosen, "initiatives": initiatives}

    def apply(self, year, c, enjeux, mentions):
        try:
            app = self.api.post("/applications", self.application_body(year, c, enjeux), token=c["token"])
            submitted = self.api.post(f"/applications/{app['id']}/submit", {}, token=c["token"])
        except ApiError as exc:
            self.problem(f"candidature de {c['name']} : {exc.french()}")
            return None
        if submitted.get("state", "submitted") != "submitted":
            self.problem(f"candidature de {c['name']} dans l'état {submitted.get('state')}")
        return {
            "application_id": app["id"],
            "campaign_year": year,
            "collectivite": c,
            "mentions": self.mention_codes(c.get("mentions") or [], mentions),
            "arobases": c["arobases"],
        }

    def apply_all(self, year, collectivites, enjeux, mentions):
        with ThreadPoolExecutor(self.workers) as pool:
            apps = [a for a in pool.map(lambda c: self.apply(year, c, enjeux, mentions), collectivites) if a]
        self.say(f"Candidatures déposées en {year} : {len(apps)}")
        return {a["application_id"]: a for a in apps}

    # jury

    def register_jurors(self, year):
        jurors = []
        for i in range(self.juror_count):
            body = {
                "name": JUROR_NAMES[i],
                "department": JUROR_DEPARTMENTS[i],
                "email": f"jure{i + 1}-{year}@jury.villes-internet.example",
            }  # one address per juror
            if i == 0:
                body["conflicts"] = ["38185"]  # a declared conflict: never gets Grenoble
            created = self.api.post("/jurors", body)
            jurors.append(dict(body, id=created["id"], token=created["token"], index=i))
        self.say(f"Jurés inscrits : {len(jurors)}")
        return jurors

    def review_body(self, juror, task, applications, enjeux):
        app = applications.get(task.get("application_id"))
        target = app["arobases"] if app else 3
        mentions = app["mentions"] if app else []
        generated = bool(app and app["collectivite"].get("generated"))
        arobases = target
        # Some generated applications split the jury, so the organisers have something to decide.
        if generated and int(app["collectivite"]["insee_code"][-1]) % 3 == 0:
            arobases = max(1, target - 2) if juror["index"] % 2 else min(5, target + 1)
        scores = {e["code"]: max(0, min(4, arobases - 1 + self.rng.choice([-1, 0, 0, 1]))) for e in enjeux}
        return {
            "scores": scores,
            "arobases": arobases,
            "mentions": mentions,
            "comment": f"Évaluation de {juror['name']} : démarche numérique "
            f"{['débutante', 'en progrès', 'solide', 'avancée', 'exemplaire'][arobases - 1]}.",
        }

    def juror_loop(self, years, juror, applications, enjeux_by_year, stop, counts):
        turn = 0
        while not stop.is_set():
            year = years[turn % len(years)]
            turn += 1
            enjeux = enjeux_by_year[year]
            try:
                task = self.api.post("/review-tasks/claim", {"campaign_year": year}, token=juror["token"])
            except ApiError as exc:
                if exc.status == 404:
                    if turn % len(years) == 0:  # nothing in any campaign: wait a little
                        stop.wait(POLL_SECONDS)
                    continue
                self.problem(f"{juror['name']} ne peut pas prendre de tâche : {exc.french()}")
                stop.wait(POLL_SECONDS * 3)
                continue
            try:
                self.api.post(
                    f"/review-tasks/{task['id']}/review",
                    self.review_body(juror, task, applications, enjeux),
                    token=juror["token"],
                )
                with self._lock:
                    counts[juror["id"]] = counts.get(juror["id"], 0) + 1
            except ApiError as exc:
                self.problem(f"évaluation refusée ({juror['name']}, tâche {task.get('id')}) : {exc.french()}")
                try:
                    self.api.post(f"/review-tasks/{task['id']}/release", {}, token=juror["token"])
                except ApiError:
                    pass
                stop.wait(POLL_SECONDS)

    def deliberation(self, year):
        return {
            row.get("application_id"): row for row in self.api.get(f"/campaigns/{year}/deliberation") or []
        }

    def review_all(self, years, jurors, applications, enjeux_by_year):
        stop, counts = threading.Event(), {}
        threads = [
            threading.Thread(
                target=self.juror_loop,
                name=f"juror-{j['index']}",
                daemon=True,
                args=(years, j, applications, enjeux_by_year, stop, counts),
            )
            for j in jurors
        ]
        for t in threads:
            t.start()
        missing = set(applications)

        def all_proposed():
            rows = {}
            for year in years:
                rows.update(self.deliberation(year))
            missing.clear()
            missing.update(a for a in applications if not (rows.get(a) or {}).get("proposal"))
            return not missing

        try:
            self.wait_for("une proposition du jury pour chaque candidature", all_proposed, interval=2)
        except DemoFailed:
            names = [applications[a]["collectivite"]["name"] for a in sorted(missing)]
            raise DemoFailed(
                f"{len(missing)} candidatures sans proposition du jury : " + ", ".join(names[:10])
            ) from None
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=10)
        self.say(
            f"Évaluations : {sum(counts.values())} par {len(jurors)} jurés ; "
            f"chaque candidature a sa proposition"
        )

    def decide(self, year, applications):
        rows = self.deliberation(year)
        decided = 0
        for app_id, app in applications.items():
            row = rows.get(app_id) or {}
            if not row.get("disagreement") or row.get("decision"):
                continue
            body = {
                "arobases": app["arobases"],
                "mentions": app["mentions"],
                "reason": "Arbitrage des organisateurs après un désaccord entre les jurés.",
            }
            try:
                self.api.put(f"/applications/{app_id}/decision", body)
                decided += 1
            except ApiError as exc:
                self.problem(f"décision sur {app['collectivite']['name']} refusée : {exc.french()}")
        self.say(f"Délibération : {decided} décisions des organisateurs sur des désaccords")

    def moderate_one(self, app_id):
        """The organisers' reading of the jurors' comments: the juror's name taken
        out (the collectivité never learns who reviewed it), the rest approved."""
        done = 0
        for comment in self.api.get(f"/applications/{app_id}/comments") or []:
            text = comment.get("comment") or ""
            prefix, _, rest = text.partition(" : ")
            if prefix.startswith("Évaluation de ") and rest:
                body = {"state": "edited", "text": rest[:1].upper() + rest[1:]}
            else:
                body = {"state": "approved"}
            self.api.put(f"/applications/{app_id}/comments/{comment['review_id']}", body)
            done += 1
        return done

    def moderate(self, year, applications):
        def one(app_id):
            try:
                return self.moderate_one(app_id)
            except ApiError as exc:
                self.problem(f"modération des commentaires de {app_id} refusée : {exc.french()}")
                return 0

        with ThreadPoolExecutor(self.workers) as pool:
            count = sum(pool.map(one, sorted(applications)))
        self.say(f"Commentaires des jurés relus en {year} : {count} (sans le nom des jurés)")

    # release and mail

    def outbox_ids(self):
        try:
            return {m.get("id") for m in self.api.get("/outbox") or []}
        except ApiError as exc:
            self.problem(f"boîte d'envoi illisible : {exc.french()}")
            return None

    def release(self, year):
        def ready_preview():
            try:
                preview = self.api.get(f"/campaigns/{year}/release/preview")
            except ApiError as exc:
                if exc.code != "preview_pending":  # its first count is on its way
                    raise
                return None
            return preview if preview.get("ready") else None

        preview = self.wait_for("l'aperçu de publication prêt", ready_preview, interval=2)
        by = preview.get("by_arobases") or {}
        self.say(
            "Aperçu : "
            + ", ".join(f"{k} @ : {v}" for k, v in sorted(by.items()))
            + f" ; {preview.get('emails_to_send', '?')} courriels à envoyer"
        )
        said = []

        def released():
            try:
                self.api.post(f"/campaigns/{year}/release", {})
                return True
            except ApiError as exc:
                if exc.status != 409:
                    raise
                if not said:
                    said.append(exc)
                    self.say(
                        f"  publication pas encore possible ({exc.message}) ; "
                        "nouvel essai jusqu'à la cérémonie…"
                    )
                return False

        self.wait_for(
            "la publication du palmarès", released, timeout=self.timeout + self.ceremony_in, interval=3
        )
        self.say(f"Palmarès {year} publié")

    def wait_palmares(self, year):
        def public():
            response = self.api.raw("GET", f"/campaigns/{year}/palmares", token="")
            return response.json() if response.status_code == 200 else None

        return self.wait_for("le palmarès public", public)

    def wait_result_emails(self, year, applications, before):
        """Until every applicant's result email of this campaign is sent; stops
        early when the remaining ones have all failed for good."""
        if before is None:
            return
        emails = {a["collectivite"]["email"] for a in applications.values()}
        state = {"waiting": set(emails), "failed": {}}

        def settled():
            sent, failed = set(), {}
            for mail in self.api.get("/outbox") or []:
                if mail.get("id") in before or mail.get("campaign_year", year) != year:
                    continue
                address = recipient_address(mail)
                if address not in emails:
                    continue
                if mail.get("state") == "sent":
                    sent.add(address)
                elif mail.get("state") == "failed" and not mail.get("next_attempt_at"):
                    failed[address] = mail.get("last_error") or "échec"
            state["waiting"] = emails - sent
            state["failed"] = {a: e for a, e in failed.items() if a in state["waiting"]}
            return not state["waiting"] or set(state["failed"]) == state["waiting"]

        try:
            self.wait_for("les courriels de résultats", settled, interval=2)
        except DemoFailed:
            pass
        if state["failed"]:
            error = next(iter(state["failed"].values()))
            self.problem(
                f"{len(state['failed'])} courriels de résultats en échec d'envoi (ex. : {error}) ; "
                "voir `labelctl outbox list --state failed`"
            )
        elif state["waiting"]:
            self.problem(
                f"{len(state['waiting'])} courriels de résultats toujours pas envoyés : "
                + ", ".join(sorted(state["waiting"])[:5])
            )
        sent = len(emails) - len(state["waiting"])
        self.say(f"Courriels de résultats envoyés : {sent} sur {len(emails)}")

    def conclude(self, years, palmares, applications, seconds):
        """Each campaign's palmarès; every collectivité of the articles with the
        article its level and mentions come from, or what the demo invented."""
        by_code = {
            (a["campaign_year"], a["collectivite"]["insee_code"]): a["collectivite"]
            for a in applications.values()
        }
        invented = 0
        for seed, year in sorted(years.items()):
            labelled = (palmares.get(year) or {}).get("labelled") or []
            by = {}
            for entry in labelled:
                by[entry.get("arobases")] = by.get(entry.get("arobases"), 0) + 1
            self.say("")
            self.say(
                f"Palmarès {year} (articles de {seed}) : {len(labelled)} collectivités labellisées ("
                + ", ".join(f"{n} × {a} @" for a, n in sorted(by.items(), key=lambda kv: -(kv[0] or 0)))
                + ")"
            )
            for entry in labelled:
                c = entry.get("collectivite") or {}
                seed_row = by_code.get((year, c.get("insee_code")))
                if not seed_row or seed_row.get("generated"):
                    continue
                labels = [m.get("label", m.get("code")) for m in entry.get("mentions") or []]
                note = invented_note(seed_row)
                invented += bool(note)
                self.say(
                    f"  {'@' * int(entry.get('arobases') or 0):<5} {c.get('name')}"
                    + (f" — mention {', '.join(labels)}" if labels else "")
                    + f"  [{note + ' ; ' if note else ''}article {seed_row.get('source')}]"
                    + (" *" if note else "")
                )
        self.say("")
        self.say(
            f"* {invented} lignes dont le niveau ou une mention est inventé par la démo : "
            "les articles ne les donnent pas "
            "(les autres sont ceux que rapportent les articles ; "
            "les collectivités générées sont toutes inventées)."
        )
        mail_dir = Path("var/mail")
        self.say("")
        self.say(f"Démo terminée en {seconds:.0f} s. Où regarder :")
        for year in sorted(years.values()):
            self.say(f"  palmarès {year} (page) : {self.api.base_url}/palmares/{year}")
            self.say(f"  palmarès {year} (API)  : {self.api.base_url}/api/v1/campaigns/{year}/palmares")
        self.say(
            f"  courriels capturés : {mail_dir.resolve() if mail_dir.is_dir() else 'var/mail/'}"
            " (un fichier .eml par courriel ; `labelctl outbox list`)"
        )
        if self.problems:
            self.say(f"  {len(self.problems)} incidents pendant la démo (ci-dessus)")
