"""Domain rules of the submissions service: campaigns, collectivités, applications.

Plain Python: `Submissions(db, outbox, settings, now)` where `outbox` offers the
ledger writes of relay.OutboxSession (create / update / record). Every state
change that owes an event is one ledger change carrying it.
"""

import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path

from services.common import contracts, tallies, tokens
from services.common.clock import as_utc, isoformat
from services.common.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.common.french import APPLICATION_STATE_LABELS, fold
from services.common.types import Doc
from services.common.validation import load
from services.submissions import barometre, schemas
from services.submissions.repository import (
    APPLICATIONS,
    AWAITING_CONFIRMATION,
    CAMPAIGNS,
    COLLECTIVITES,
    Applications,
    Atlaas,
    Barometres,
    CampaignDepartments,
    Campaigns,
    Collectivites,
    listed_fields,
)

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_VILLAGE_MAX_POPULATION = 3500

DRAFT, SUBMITTED, WITHDRAWN = "draft", "submitted", "withdrawn"


def default_grid() -> Doc:
    return json.loads((DATA / "grid.json").read_text(encoding="utf-8"))


def default_mentions() -> list[Doc]:
    return json.loads((DATA / "mentions.json").read_text(encoding="utf-8"))["mentions"]


def category_for(kind: str, population: int, village_max_population: int) -> str:
    """`territoire` for an EPCI; a commune is a `village` up to the threshold, a `ville` above."""
    if kind == "epci":
        return "territoire"
    return "village" if population <= village_max_population else "ville"


def campaign_state(campaign: Doc, now: datetime) -> str:
    if campaign.get("released_at"):
        return "released"
    return "closed" if now >= campaign["submissions_close_at"] else "open"


def grid_codes(grid: Doc) -> tuple[set[str], set[str]]:
    enjeux = {enjeu["code"] for enjeu in grid["enjeux"]}
    services = {service["code"] for enjeu in grid["enjeux"] for service in enjeu["services"]}
    return enjeux, services


def check_against_grid(grid: Doc, data: Doc) -> dict[str, list[str]]:
    """Unknown service or enjeu codes → {field: [reason]}; duplicates are refused too."""
    enjeux, services = grid_codes(grid)
    errors = {}
    seen = set()
    for index, code in enumerate(data.get("services") or []):
        if code not in services:
            errors[f"services.{index}"] = [f"Service inconnu dans la grille de la campagne : {code!r}."]
        elif code in seen:
            errors[f"services.{index}"] = [f"Service coché deux fois : {code!r}."]
        seen.add(code)
    for index, initiative in enumerate(data.get("initiatives") or []):
        if initiative["enjeu"] not in enjeux:
            errors[f"initiatives.{index}.enjeu"] = [
                f"Enjeu inconnu dans la grille de la campagne : {initiative['enjeu']!r}."
            ]
    return errors


def campaign_view(campaign: Doc, now: datetime) -> Doc:
    return {
        "year": campaign["year"],
        "title": campaign["title"],
        "state": campaign_state(campaign, now),
        "submissions_open_at": isoformat(campaign["submissions_open_at"]),
        "submissions_close_at": isoformat(campaign["submissions_close_at"]),
        "accepting_submissions": (
            campaign_state(campaign, now) == "open" and now >= campaign["submissions_open_at"]
        ),
        "ceremony_at": isoformat(campaign["ceremony_at"]),
        "ceremony_place": campaign["ceremony_place"],
        "reviews_per_application": campaign["reviews_per_application"],
        "village_max_population": campaign["village_max_population"],
        "grid": campaign["grid"],
        "mentions": campaign["mentions"],
        "released_at": isoformat(campaign["released_at"]) if campaign.get("released_at") else None,
    }


def collectivite_ref(collectivite: Doc, category: str) -> Doc:
    """The CollectiviteRef of contracts.py (what events carry)."""
    return {
        "id": collectivite["_id"],
        "insee_code": collectivite["insee_code"],
        "name": collectivite["name"],
        "kind": collectivite["kind"],
        "category": category,
        "department": collectivite["department"],
        "region": collectivite["region"],
        "population": collectivite["population"],
        "email": collectivite["email"],
        "member_communes": list(collectivite.get("member_communes") or []),
        "tncc": collectivite.get("tncc"),
    }


def collectivite_view(collectivite: Doc, category: str) -> Doc:
    return dict(collectivite_ref(collectivite, category), created_at=isoformat(collectivite["created_at"]))


def application_view(application: Doc) -> Doc:
    view = {
        "id": application["_id"],
        "campaign_year": application["campaign_year"],
        "collectivite_id": application["collectivite_id"],
        "collectivite": application["collectivite"],
        "state": application["state"],
        "services": application["services"],
        "initiatives": application["initiatives"],
        "previous_arobases": application.get("previous_arobases"),
        "created_at": isoformat(application["created_at"]),
        "updated_at": isoformat(application["updated_at"]),
    }
    for moment in ("submitted_at", "withdrawn_at"):
        if application.get(moment):
            view[moment] = isoformat(application[moment])
    return view


# The organisers' list reads a campaign département by département (each an
# equality read), never whole: a page stops once it holds SEARCH_ROWS rows, or
# once it has read SEARCH_BUDGET applications (a search by name, whose matches
# may be few and far apart, goes on from the next département on its next page).
SEARCH_ROWS = 50
SEARCH_BUDGET = 2000


def search_key(application: Doc) -> tuple[str, str]:
    return fold(application["collectivite"]["name"]), application["_id"]


def _matches(application: Doc, text: str) -> bool:
    col = application["collectivite"]
    return not text or text in fold(f"{col['name']} {col['insee_code']}")


def _yielding(items, every=500):
    """Pass `items` on, sleeping 0 s every `every` of them: under eventlet's monkey
    patching that lets the service's other workers run during a long computation."""
    for index, item in enumerate(items):
        if index % every == every - 1:
            time.sleep(0)
        yield item


class Submissions:
    def __init__(self, db, outbox, settings, now):
        self.outbox = outbox
        self.settings = settings  # settings.SubmissionsSettings
        self.now = now
        self.campaigns = Campaigns(db)
        self.collectivites = Collectivites(db)
        self.applications = Applications(db)
        self.departments = CampaignDepartments(db)
        self.barometres = Barometres(db)
        self.atlaas = Atlaas(db)
        self.tallies = tallies.Tallies(db)

    # -- campaigns -----------------------------------------------------------

    def create_campaign(self, data):
        data = load(schemas.CampaignSchema(), data)
        campaign = dict(
            data,
            _id=Campaigns.key(data["year"]),
            grid=data["grid"] or default_grid(),
            mentions=data["mentions"] or default_mentions(),
            released_at=None,
            created_at=self.now,
        )
        event = (
            contracts.CAMPAIGN_OPENED,
            {
                "year": campaign["year"],
                "title": campaign["title"],
                "submissions_open_at": isoformat(campaign["submissions_open_at"]),
                "submissions_close_at": isoformat(campaign["submissions_close_at"]),
                "ceremony_at": isoformat(campaign["ceremony_at"]),
                "ceremony_place": campaign["ceremony_place"],
                "reviews_per_application": campaign["reviews_per_application"],
                "enjeux": [
                    {"code": e["code"], "label": e["label"], "services": e["services"]}
                    for e in campaign["grid"]["enjeux"]
                ],
                "mentions": campaign["mentions"],
            },
        )
        campaign = self.outbox.create(
            CAMPAIGNS,
            campaign,
            events=[event],
            conflict=Conflict(f"La campagne {campaign['year']} existe déjà.", "campaign_exists"),
        )
        return campaign_view(campaign, self.now)

    def list_campaigns(self):
        return [campaign_view(c, self.now) for c in self.campaigns.all()]

    def get_campaign(self, year):
        return campaign_view(self._campaign(year), self.now)

    def _campaign(self, year):
        try:
            year = int(year)
        except (TypeError, ValueError):
            raise NotFound(f"Campagne inconnue : {year}.", "campaign_not_found") from None
        if not 0 <= year <= 9999:  # nor a year, nor an int MongoDB can store
            raise NotFound(f"Campagne inconnue : {year}.", "campaign_not_found")
        campaign = self.campaigns.get(year)
        if campaign is None:
            raise NotFound(f"Campagne inconnue : {year}.", "campaign_not_found")
        return campaign

    def mark_released(self, year, released_at):
        """results_released: the campaign is released (withdrawals refused from now on)."""
        campaign = self.campaigns.get(year)
        if campaign is None:
            log.warning("results_released for unknown campaign %s, ignored", year)
            return None
        if not campaign.get("released_at"):
            campaign = self.outbox.update(CAMPAIGNS, campaign, {"released_at": released_at})
        if self.barometres.get(year) is None:
            # Also after a crash that came between the update and this: the event is replayed.
            self.publish_barometre(campaign)
        return campaign_view(campaign, self.now)

    # -- baromètre, Atlaas, pré-diagnostic (issue 16) ----------------------------

    def publish_barometre(self, campaign):
        """At the release only: the baromètre and the directory's entries from the
        campaign's submitted applications (never a draft); the baromètre document
        is written last, so that its presence says the whole computation is done."""
        year = campaign["year"]
        applications = self.applications.collection.find(
            {"campaign_year": year, "state": SUBMITTED},
            {"collectivite": 1, "services": 1, "initiatives": 1, "state": 1},
        )
        document, entries = barometre.compute(
            campaign,
            _yielding(app for app in applications if app["state"] == SUBMITTED),
            isoformat(campaign["released_at"]),
        )
        self.atlaas.replace_year(year, entries)
        document["computed_at"] = isoformat(self.now)
        self.barometres.save(document)
        log.info(
            "barometre %s: %s applications, %s published initiatives",
            year,
            document["applications"],
            len(entries),
        )
        return document

    def barometre_years(self):
        return self.barometres.years()

    def barometre(self, year):
        """The public baromètre of a released campaign; 409 before its release."""
        campaign = self._campaign(year)
        document = self.barometres.get(campaign["year"])
        if document is None:
            raise Conflict(
                f"Le baromètre {campaign['year']} sera publié avec le palmarès, le jour de la cérémonie.",
                "results_embargoed",
            )
        earlier = [y for y in self.barometres.years() if y < campaign["year"]]
        previous = self.barometres.get(earlier[0]) if earlier else None
        return barometre.public_view(document, previous)

    def search_initiatives(self, filters):
        """The Atlaas directory: consented initiatives of released campaigns,
        filtered, newest first, `limit` per page from `cursor` (the last id seen)."""
        filters = load(schemas.InitiativeSearchSchema(), filters)
        keys = [(key, filters[key]) for key in ("enjeu", "region", "band") if filters[key]]
        keys += [("term", word) for word in barometre.terms(filters["q"])[:10]]
        limit, cursor = filters["limit"], filters["cursor"]
        years = [filters["year"]] if filters["year"] else self.barometres.years()
        ids: list[str] = []
        for year in years:
            if not self.barometres.exists(year):
                continue  # not released (or not computed yet): nothing of it is shown
            if cursor and str(year) > cursor:
                continue  # ids start with the year: those are all above the cursor
            ids += self.atlaas.matching(year, keys, cursor, limit + 1 - len(ids))
            if len(ids) > limit:
                break
        items = []
        for entry_id in ids[:limit]:
            item = self.atlaas.get(entry_id)
            if item is not None:
                item["id"] = item.pop("_id")
                items.append(item)
        more = len(ids) > limit
        return {"items": items, "next_cursor": ids[limit - 1] if more else None, "limit": limit}

    def prediagnostic(self, collectivite_id, principal_role, principal_subject):
        """A collectivité's current draft or last application against similar
        collectivités of the latest baromètre."""
        if principal_role == "collectivite" and principal_subject != collectivite_id:
            raise NotFound("Collectivité introuvable.", "collectivite_not_found")
        if principal_role not in ("collectivite", "organiser"):
            raise Forbidden("Réservé à la collectivité et aux organisateurs.")
        application, campaign = None, None
        for candidate in self.campaigns.all():
            application = self.applications.get(Applications.key(candidate["year"], collectivite_id))
            if application is not None and application["state"] != WITHDRAWN:
                campaign = candidate
                break
            application = None
        if application is None or campaign is None:
            raise NotFound(
                "Aucune candidature de cette collectivité : le pré-diagnostic part de votre brouillon.",
                "application_not_found",
            )
        # The latest baromètre up to the application's year: never one of a later campaign.
        years = [y for y in self.barometres.years() if y <= campaign["year"]]
        if not years:
            raise NotFound("Aucun baromètre n'est encore publié.", "barometre_not_found")
        document = self.barometres.get(years[0])
        return barometre.prediagnostic(application, campaign["grid"], document)

    # -- collectivités -------------------------------------------------------

    def current_threshold(self):
        latest = self.campaigns.latest()
        return latest["village_max_population"] if latest else DEFAULT_VILLAGE_MAX_POPULATION

    def register_collectivite(self, data, trusted=False):
        """`trusted`: created by an organiser (import, demo): confirmed at once.
        Otherwise the address must be confirmed (the gateway sends the link)
        before `confirm_by`: until then no welcome email, no application, and
        past it the code is free again."""
        data = load(schemas.CollectiviteSchema(), data)
        code = data["siren"] or data["insee_code"] if data["kind"] == "epci" else data["insee_code"]
        collectivite = {
            "_id": code,
            "insee_code": code,
            "name": data["name"].strip(),
            "kind": data["kind"],
            "population": data["population"],
            "region": schemas.canonical_region(data["region"]),
            "department": data["department"],
            "email": data["email"].strip(),
            "member_communes": data["member_communes"],
            "tncc": data["tncc"],
            "created_at": self.now,
            "confirmed_at": self.now if trusted else None,
            "confirm_by": None if trusted else self.now + self.settings.unconfirmed_lifetime,
            AWAITING_CONFIRMATION: not trusted,
        }
        category = category_for(collectivite["kind"], collectivite["population"], self.current_threshold())
        token = tokens.issue(
            self.settings.secret_key, "collectivite", code, self.now, self.settings.token_lifetime
        )
        # The token is in the response only: never in the event (ledger, outbox, dead letters).
        # The welcome email (it carries the name the requester wrote) only to a confirmed address.
        ref = collectivite_ref(collectivite, category)
        events = [(contracts.COLLECTIVITE_REGISTERED, {"collectivite": ref})] if trusted else []
        taken = Conflict(f"Une collectivité est déjà inscrite avec le code {code}.", "already_registered")
        stale = self.collectivites.get(code)
        replaced = stale is not None and self._lapsed(stale)
        if replaced:
            # An unconfirmed sign-up past its delay: the code goes to the new one (the ledger's next version).
            fields = {k: v for k, v in collectivite.items() if k != "_id"}
            self.outbox.update(
                COLLECTIVITES, stale, dict(fields, expired_at=None), events=events, conflict=taken
            )
        else:
            self.outbox.create(COLLECTIVITES, collectivite, events=events, conflict=taken)
        created = {"id": code, "token": token, "category": category, "confirmed": trusted}
        return dict(created, replaced=True) if replaced else created

    def _lapsed(self, collectivite):
        confirm_by = collectivite.get("confirm_by")
        return bool(confirm_by) and not collectivite.get("confirmed_at") and as_utc(confirm_by) <= self.now

    def confirm_collectivite(self, collectivite_id, email=None):
        """Its address proved (a sign-in link sent there was followed): it may act, welcome.
        `email`: where the link went; a link sent before a reassignment opens nothing."""
        collectivite = self.collectivites.get(collectivite_id)
        if collectivite is None:
            raise NotFound("Collectivité introuvable.", "collectivite_not_found")
        if self._lapsed(collectivite):
            raise Conflict(
                "Cette inscription n'a pas été confirmée à temps et a expiré : "
                "inscrivez la collectivité à nouveau.",
                "sign_up_expired",
            )
        if email is not None and email.strip().lower() != collectivite["email"].strip().lower():
            raise Forbidden(
                "Ce lien a été envoyé à une adresse qui n'est plus celle de la collectivité.",
                "address_changed",
            )
        if collectivite.get("confirmed_at") or not collectivite.get("confirm_by"):
            # Already, or signed up before confirmation existed.
            return {"id": collectivite_id, "confirmed": True}
        category = category_for(collectivite["kind"], collectivite["population"], self.current_threshold())
        event = (
            contracts.COLLECTIVITE_REGISTERED,
            {"collectivite": collectivite_ref(collectivite, category)},
        )
        try:
            self.outbox.update(
                COLLECTIVITES,
                collectivite,
                {"confirmed_at": self.now, "confirm_by": None, AWAITING_CONFIRMATION: False},
                events=[event],
            )
        except Conflict:
            pass  # a concurrent click confirmed it (or the timer expired it: the next action says so)
        return {"id": collectivite_id, "confirmed": True}

    def reassign_collectivite(self, collectivite_id, email):
        """(Organiser) The code goes to `email`, which must confirm it like a new sign-up."""
        collectivite = self.collectivites.get(collectivite_id)
        if collectivite is None:
            raise NotFound("Collectivité introuvable.", "collectivite_not_found")
        fields = {
            "email": email.strip(),
            "confirmed_at": None,
            "confirm_by": self.now + self.settings.unconfirmed_lifetime,
            AWAITING_CONFIRMATION: True,
            "expired_at": None,
            "reassigned_at": self.now,
        }
        self.outbox.update(COLLECTIVITES, collectivite, fields)
        return {"id": collectivite_id, "email": fields["email"], "confirmed": False}

    def expire_unconfirmed(self, limit=100):
        """(Timer) Unconfirmed sign-ups past their delay forget their address:
        no link reaches it any more, and the code is free for a new sign-up."""
        expired = []
        for collectivite in self.collectivites.lapsed(self.now, limit):
            if not self._lapsed(collectivite) or collectivite.get("expired_at"):
                continue
            try:
                self.outbox.update(
                    COLLECTIVITES,
                    collectivite,
                    {"email": "", "expired_at": self.now, AWAITING_CONFIRMATION: False},
                )
                expired.append(collectivite["_id"])
            except Conflict:
                pass  # confirmed or taken over meanwhile
        return expired

    def collectivites_by_email(self, email):
        """Who may sign in with this address (sign-in by email link)."""
        return [{"id": doc["_id"], "name": doc["name"]} for doc in self.collectivites.with_email(email)]

    def get_collectivite(self, collectivite_id, principal_role=None, principal_subject=None):
        if principal_role == "collectivite" and principal_subject != collectivite_id:
            raise NotFound("Collectivité introuvable.", "collectivite_not_found")
        collectivite = self.collectivites.get(collectivite_id)
        if collectivite is None:
            raise NotFound("Collectivité introuvable.", "collectivite_not_found")
        return collectivite_view(
            collectivite,
            category_for(collectivite["kind"], collectivite["population"], self.current_threshold()),
        )

    # -- applications --------------------------------------------------------

    def create_application(self, collectivite_id, data):
        data = load(schemas.ApplicationCreateSchema(), data)
        collectivite = self.collectivites.get(collectivite_id)
        if collectivite is None:
            raise NotFound("Collectivité introuvable.", "collectivite_not_found")
        if collectivite.get("confirm_by") and not collectivite.get("confirmed_at"):
            raise Forbidden(
                "L'adresse électronique de la collectivité n'est pas encore confirmée : "
                "suivez d'abord le lien que nous y avons envoyé.",
                "address_unconfirmed",
            )
        campaign = self.campaigns.get(data["campaign_year"])
        if campaign is None:
            raise ValidationFailed({"campaign_year": [f"Campagne inconnue : {data['campaign_year']}."]})
        errors = check_against_grid(campaign["grid"], data)
        if errors:
            raise ValidationFailed(errors)
        self._check_editable_campaign(campaign)
        ref = self._ref(collectivite, campaign)
        application = {
            "_id": Applications.key(campaign["year"], collectivite_id),
            "campaign_year": campaign["year"],
            "collectivite_id": collectivite_id,
            "collectivite": ref,
            **listed_fields(ref),
            "state": DRAFT,
            "services": data["services"],
            "initiatives": data["initiatives"],
            "previous_arobases": data["previous_arobases"],
            "created_at": self.now,
            "updated_at": self.now,
        }
        # First: an application is never stored in a département the list does not walk.
        self.departments.add(campaign["year"], application["department"])
        application = self.outbox.create(
            APPLICATIONS,
            application,
            conflict=Conflict(
                f"Votre collectivité a déjà une candidature pour {campaign['year']}.", "application_exists"
            ),
        )
        return application_view(application)

    def get_application(self, application_id, principal_role, principal_subject):
        return application_view(self._readable(application_id, principal_role, principal_subject))

    def update_application(self, application_id, principal_role, principal_subject, data):
        application = self._owned(application_id, principal_role, principal_subject)
        data = load(schemas.ApplicationPatchSchema(), data)
        campaign = self._campaign(application["campaign_year"])
        errors = check_against_grid(campaign["grid"], data)
        if errors:
            raise ValidationFailed(errors)
        self._check_draft(application)
        self._check_editable_campaign(campaign)
        changes = {key: value for key, value in data.items()}
        if not changes:
            return application_view(application)
        changes["updated_at"] = self.now
        application = self.outbox.update(APPLICATIONS, application, changes)
        return application_view(application)

    def submit_application(self, application_id, principal_role, principal_subject):
        application = self._owned(application_id, principal_role, principal_subject)
        self._check_draft(application)
        campaign = self._campaign(application["campaign_year"])
        if self.now < campaign["submissions_open_at"]:
            raise Conflict("Les candidatures ne sont pas encore ouvertes.", "submissions_not_open")
        if campaign_state(campaign, self.now) != "open":
            raise Conflict("La date limite de dépôt des candidatures est passée.", "deadline_passed")
        collectivite = self.collectivites.get(application["collectivite_id"])
        ref = self._ref(collectivite, campaign)
        event = (
            contracts.APPLICATION_SUBMITTED,
            {
                "application_id": application["_id"],
                "campaign_year": campaign["year"],
                "collectivite": ref,
                "services": application["services"],
                "initiatives": application["initiatives"],
                "reviews_per_application": campaign["reviews_per_application"],
                "enjeux": [enjeu["code"] for enjeu in campaign["grid"]["enjeux"]],
                "mentions": [mention["code"] for mention in campaign["mentions"]],
                "submitted_at": isoformat(self.now),
                "declared_previous_arobases": application.get("previous_arobases"),
            },
        )
        listed = listed_fields(ref)  # the collectivité's record may have changed since the draft
        if listed["department"] != application.get("department"):
            self.departments.add(campaign["year"], listed["department"])
        application = self.outbox.update(
            APPLICATIONS,
            application,
            {"state": SUBMITTED, "submitted_at": self.now, "updated_at": self.now, "collectivite": ref}
            | listed,
            events=[event],
            conflict=Conflict("La candidature vient d'être modifiée ; rechargez-la.", "concurrent_change"),
        )
        return application_view(application)

    def withdraw_application(self, application_id, principal_role, principal_subject, release_frozen=None):
        """`release_frozen(year)`: asks the awards service, which decides the
        release, so that a withdrawal never slips in after the organiser's click
        and before its event reaches us (the release wins: the application stays
        in the palmarès, no "retirée" email)."""
        application = self._owned(application_id, principal_role, principal_subject)
        if application["state"] == WITHDRAWN:
            raise Conflict("La candidature est déjà retirée.", "already_withdrawn")
        campaign = self._campaign(application["campaign_year"])
        if campaign.get("released_at") or (release_frozen is not None and release_frozen(campaign["year"])):
            raise Conflict(
                "Le palmarès est publié ou en cours de publication : "
                "la candidature ne peut plus être retirée.",
                "results_released",
            )
        event = (
            contracts.APPLICATION_WITHDRAWN,
            {
                "application_id": application["_id"],
                "campaign_year": campaign["year"],
                "collectivite": application["collectivite"],
                "withdrawn_at": isoformat(self.now),
            },
        )
        application = self.outbox.update(
            APPLICATIONS,
            application,
            {"state": WITHDRAWN, "withdrawn_at": self.now, "updated_at": self.now},
            events=[event],
            conflict=Conflict("La candidature vient d'être modifiée ; rechargez-la.", "concurrent_change"),
        )
        return application_view(application)

    def list_applications(self, year, principal_role, principal_subject, state=None, after=None, limit=None):
        """Organisers: every application of the campaign; a collectivité: its own.
        With `limit`: at most that many, by id, those after the id `after` (a page)."""
        campaign = self._campaign(year)
        if principal_role == "collectivite":
            application = self.applications.get(Applications.key(campaign["year"], principal_subject))
            if application is None or (after is not None and application["_id"] <= after):
                return []
            return [application_view(application)]
        if principal_role != "organiser":
            raise Forbidden("Réservé aux organisateurs.")
        if limit is not None:
            rows = self.applications.page_of_campaign(campaign["year"], state, after, int(limit))
            return [application_view(a) for a in rows]
        return [application_view(a) for a in self.applications.of_campaign(campaign["year"], state)]

    def campaigns_of_collectivite(self, collectivite_id, recent_closed):
        """A collectivité's home: every campaign open to submissions, and the
        `recent_closed` most recent others in which it applied; each with its
        application (or None). One `_id` read per campaign (one a year)."""
        rows = []
        for campaign in self.campaigns.all():
            view = campaign_view(campaign, self.now)
            application = self.applications.get(Applications.key(campaign["year"], collectivite_id))
            if view["accepting_submissions"]:
                rows.append({"campaign": view, "application": application and application_view(application)})
            elif application is not None and recent_closed > 0:
                recent_closed -= 1
                rows.append({"campaign": view, "application": application_view(application)})
        return rows

    def search_applications(
        self, year: int | str, filters: dict, after: str | None = None, start: str | None = None
    ) -> Doc:
        """Organisers' list: filtered (state, region, category, department, text in
        the name or code, accents and case ignored), by département then name,
        one page of SEARCH_ROWS. Read département by département (see
        SEARCH_BUDGET); `after`: the previous page's last application,
        `start`: the département a page that stopped on its budget got to."""
        filters = load(schemas.ApplicationSearchSchema(), filters)
        where = load(schemas.ApplicationSearchPage(), {"after": after, "start": start})
        after, start = where["after"], where["start"]
        year = self._campaign(year)["year"]
        text = fold(filters.get("text") or "")
        equal = {key: filters[key] for key in ("state", "region", "category") if filters.get(key)}
        wanted = (filters.get("department") or "").upper()
        departments = [wanted] if wanted else self.departments.of_campaign(year)
        cursor = self.applications.get(after) if after else None
        if cursor is not None and cursor["campaign_year"] == year:
            start = cursor["department"]
        else:
            cursor = None
        if start:
            departments = [department for department in departments if department >= start]
        rows: list[Doc] = []
        read, next_start = 0, None
        for department in departments:
            if len(rows) > SEARCH_ROWS or read >= SEARCH_BUDGET:
                next_start = department
                break
            found = self.applications.in_department(year, department, equal)
            read += len(found)
            found = sorted((app for app in found if _matches(app, text)), key=search_key)
            if cursor is not None and department == cursor["department"]:
                found = [app for app in found if search_key(app) > search_key(cursor)]
            rows += found
        page = rows[:SEARCH_ROWS]
        more = len(rows) > SEARCH_ROWS
        return {
            "items": [application_view(app) for app in page],
            "next_after": page[-1]["_id"] if more else None,
            "next_department": None if more else next_start,
        }

    def application_counts(self, year: int | str) -> Doc:
        """The campaign's applications by state, as a tally (common/tallies.py)."""
        return tallies.read(self.tallies, [self._campaign(year)["year"]], self._count_applications, self.now)

    def refresh_tallies(self) -> int:
        return tallies.refresh_asked(self.tallies, self._count_applications, self.now)

    def _count_applications(self, year: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for app in self.applications.of_campaign(year, projection={"state": 1}):
            counts[app["state"]] = counts.get(app["state"], 0) + 1
        return counts

    def _ref(self, collectivite, campaign):
        return collectivite_ref(
            collectivite,
            category_for(
                collectivite["kind"], collectivite["population"], campaign["village_max_population"]
            ),
        )

    def _readable(self, application_id, principal_role, principal_subject):
        application = self.applications.get(application_id)
        # Another collectivité gets the same answer whether the application exists or not.
        if application is None or (
            principal_role == "collectivite" and application["collectivite_id"] != principal_subject
        ):
            raise NotFound("Candidature introuvable.", "application_not_found")
        if principal_role not in ("collectivite", "organiser"):
            raise Forbidden("Vous n'avez pas accès à cette candidature.")
        return application

    def _owned(self, application_id, principal_role, principal_subject):
        application = self._readable(application_id, principal_role, principal_subject)
        if principal_role != "collectivite":
            raise Forbidden("Seule la collectivité candidate modifie sa candidature.")
        return application

    def _check_draft(self, application):
        if application["state"] != DRAFT:
            raise Conflict(
                "La candidature n'est plus un brouillon : elle est "
                f"{APPLICATION_STATE_LABELS.get(application['state'], application['state'])}.",
                "not_draft",
            )

    def _check_editable_campaign(self, campaign):
        if campaign_state(campaign, self.now) != "open":
            raise Conflict("La date limite de dépôt des candidatures est passée.", "deadline_passed")

    # -- timers --------------------------------------------------------------

    def send_reminders(self, days_before):
        """application_reminder_due once per draft, `days_before` days before the deadline."""
        sent = 0
        for campaign in self.campaigns.all():
            close = campaign["submissions_close_at"]
            if campaign_state(campaign, self.now) != "open" or self.now < close - timedelta(days=days_before):
                continue
            for application in self.applications.of_campaign(campaign["year"], DRAFT):
                event = (
                    contracts.APPLICATION_REMINDER_DUE,
                    {
                        "application_id": application["_id"],
                        "campaign_year": campaign["year"],
                        "collectivite": application["collectivite"],
                        "submissions_close_at": isoformat(close),
                    },
                )
                try:
                    self.outbox.record(f"reminder:{application['_id']}", [event])
                except Conflict:
                    continue  # already reminded
                sent += 1
        return sent

    def close_submissions(self, already_closed=()):
        """submissions_closed once per campaign whose window has closed; returns the years done."""
        done = []
        for campaign in self.campaigns.all():
            year = campaign["year"]
            if year in already_closed or self.now < campaign["submissions_close_at"]:
                continue
            event = (
                contracts.SUBMISSIONS_CLOSED,
                {
                    "campaign_year": year,
                    "submitted_count": self.applications.count(year, SUBMITTED),
                },
            )
            try:
                self.outbox.record(f"closed:{year}", [event])
            except Conflict:
                pass  # recorded before (by us or another replica)
            done.append(year)
        return done
