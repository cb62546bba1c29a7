"""What to send for each event, rendered and queued: plain Python, no nameko.

An email's `_id` is derived from (event id, template, recipient): a
redelivered event renders the same ids and the uniquely keyed insert drops the
copy. Its Message-ID and Date are fixed here, at queue time, so every later
(re)send of it is the very same message.

Result emails are queued only once `results_released` has been handled for
the campaign: an `award_decided` seen earlier is held and queued by the release.
"""

import hashlib
import logging
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import jinja2

from services.common import contracts, placenames, tallies
from services.common.clock import isoformat, parse
from services.common.errors import Conflict
from services.common.french import CATEGORY_LABELS, CATEGORY_PLURALS, french_date, french_score
from services.common.types import Doc
from services.notifications.mail import (
    InvalidHeader,
    check_header_text,
    message_domain,
    parse_address,
)

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).parent / "templates"
RESULT_TEMPLATES = frozenset({"result"})


class EmailState(StrEnum):
    """An email's `state` (in flight = an attempt claim without outcome, see sender.py)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


STATES = tuple(state.value for state in EmailState)


def email_id(event_id: str, template: str, recipient: str) -> str:
    digest = hashlib.sha256(f"{event_id}\x1f{template}\x1f{recipient.lower()}".encode()).hexdigest()
    return f"m{digest[:31]}"


YEARS_IN_WORDS = {1: "un an", 2: "deux ans", 3: "trois ans", 4: "quatre ans", 5: "cinq ans", 6: "six ans"}


def _arobases(n: int) -> str:
    return f"{n} arobase{'s' if n > 1 else ''}"


def progression_text(
    place: Doc,
    progression: str,
    arobases: int,
    previous: int | None,
    previous_year: int | None = None,
    year: int | None = None,
    declared: bool = False,
) -> str:
    """The result letter's sentence on the level, against the collectivité's last
    label however long ago; `place` is the collectivité (name, kind, tncc: its
    name's grammar, see services/common/placenames.py)."""
    name = placenames.subject(place)
    plural = placenames.is_are(place) == "sont"
    since = (
        f"par rapport à {previous_year}"
        if previous_year
        else "par rapport au niveau déclaré dans sa candidature"
        if declared
        else "par rapport à son dernier label"
    )
    if progression == "back" and previous and previous_year and year:
        absent = year - previous_year - 1
        span = YEARS_IN_WORDS.get(absent, f"{absent} ans")
        verb = "retrouvent" if plural else "retrouve"
        return (
            f"{name} {verb} le label après {span} d'absence, avec {_arobases(arobases)} "
            f"({_arobases(previous)} en {previous_year})."
        )
    if progression == "gained" and previous:
        gained = arobases - previous
        verb = "gagnent" if plural else "gagne"
        step = "une @" if gained == 1 else f"{gained} @"
        return f"{name} {verb} {step} {since} : de {previous} à {_arobases(arobases)}."
    if progression == "lost" and previous:
        verb = "passent" if plural else "passe"
        return f"{name} {verb} de {previous} à {_arobases(arobases)} {since}."
    if progression == "kept":
        verb = "conservent leur" if plural else "conserve son"
        level = (
            f"de {previous_year}"
            if previous_year
            else "déclaré dans sa candidature"
            if declared
            else "de son dernier label"
        )
        return f"{name} {verb} niveau {level} ({_arobases(arobases)})."
    return (
        f"C'est la première labellisation {placenames.de(place)} : "
        "bienvenue dans le réseau des Territoires, Villes et Villages Internet !"
    )


def services_by_enjeu(codes: list[str], campaign: Doc) -> list[tuple[str, list[str]]]:
    """[(enjeu label, [service labels])] in the grid's order; a code the campaign
    does not describe (an older campaign record) is shown as it is."""
    enjeux = campaign.get("enjeux", {})
    known = campaign.get("services", {})
    groups: dict[str, list[str]] = {}
    for code in codes:
        enjeu, label = known.get(code, ["", code])
        groups.setdefault(enjeux.get(enjeu, "Autres services"), []).append(label)
    order = list(enjeux.values())
    return sorted(groups.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


class Renderer:
    def __init__(self, directory=TEMPLATES_DIR):
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        # Place names with their French grammar: {{ collectivite|de }} → "du Mans".
        self.env.filters.update(
            de=placenames.de,
            a=placenames.a,
            subject=placenames.subject,
            is_are=placenames.is_are,
            agreed=placenames.agreed,
            score=french_score,
        )

    def render(self, template, context):
        """(subject, text, html); the subject is the text template's `subject` block."""
        text_tpl = self.env.get_template(f"{template}.txt")
        subject = "".join(text_tpl.blocks["subject"](text_tpl.new_context(context))).strip()
        text = text_tpl.render(context).strip() + "\n"
        html = self.env.get_template(f"{template}.html").render(context)
        return subject, text, html


class Draft:
    """One email to queue: who, which template, with what."""

    def __init__(self, template, recipient, context, name="", campaign_year=None, collectivite=None):
        self.template = template
        self.recipient = recipient
        self.name = name
        self.context = context
        self.campaign_year = campaign_year
        self.collectivite = collectivite


class Notifications:
    """Turns events into queued emails."""

    def __init__(self, repos, renderer, settings, now, outbox=None):
        self.repos = repos
        self.renderer = renderer
        self.settings = settings  # settings.NotificationsSettings
        self.outbox = outbox  # ledger session, for email_failed of an unsendable address
        self.now = now  # the worker's instant
        self.sender = settings.sender
        self.base_url = settings.base_url
        self.max_attempts = settings.max_attempts

    # -- the organisers' pages ---------------------------------------------

    def campaign_mail(self, campaign_year: int, kind: str | None = None) -> Doc:
        """A campaign's emails by state (of one kind: the release's progress for
        "result"), as a tally (common/tallies.py)."""
        what = [campaign_year] + ([kind] if kind else [])
        return tallies.read(self.repos.tallies, what, self.repos.emails.counts, self.now)

    def refresh_tallies(self) -> int:
        return tallies.refresh_asked(self.repos.tallies, self.repos.emails.counts, self.now)

    # -- recipients --------------------------------------------------------

    def organisers(self):
        return list(self.settings.organisers)

    def _collectivite_draft(self, template, data, context, year=None):
        col = data["collectivite"]
        if not col.get("email"):
            log.info("%s: collectivité %s has no email, nothing queued", template, col["id"])
            return []
        return [
            Draft(
                template,
                col["email"],
                dict(context, collectivite=col),
                name=col["name"],
                campaign_year=year,
                collectivite=col,
            )
        ]

    def _organiser_drafts(self, template, context, year=None):
        return [Draft(template, address, context, campaign_year=year) for address in self.organisers()]

    # -- events --------------------------------------------------------------

    def on_campaign_opened(self, data):
        self.repos.campaigns.save(
            data["year"],
            {
                "title": data["title"],
                "submissions_close_at": data["submissions_close_at"],
                "ceremony_at": data["ceremony_at"],
                "ceremony_place": data["ceremony_place"],
                "enjeux": {e["code"]: e["label"] for e in data["enjeux"]},
                # service code → [enjeu code, label]: emails list services by label, grouped by enjeu
                "services": {
                    s["code"]: [e["code"], s["label"]] for e in data["enjeux"] for s in e.get("services", [])
                },
                "mentions": {m["code"]: m["label"] for m in data["mentions"]},
            },
        )
        return []

    def on_collectivite_registered(self, data):
        col = data["collectivite"]
        return self.queue(
            data["event_id"],
            self._collectivite_draft(
                "welcome_collectivite",
                data,
                {
                    "space_url": f"{self.base_url}/collectivite",
                    "category_label": CATEGORY_LABELS.get(col["category"], col["category"]),
                },
            ),
        )

    def on_application_submitted(self, data):
        return self.on_applications_submitted([data])

    def on_applications_submitted(self, batch):
        """Each acknowledgement rendered, then all queued in one insert; one
        campaign read per campaign of the batch."""
        drafts = []
        for year, submissions in group_by_year(batch).items():
            campaign = self.repos.campaigns.get(year) or {}
            drafts += [
                (data["event_id"], draft)
                for data in submissions
                for draft in self._acknowledgement_drafts(data, campaign)
            ]
        return self.queue_all(drafts)

    def _acknowledgement_drafts(self, data, campaign):
        year = data["campaign_year"]
        enjeux = campaign.get("enjeux", {})
        initiatives = [dict(i, enjeu_label=enjeux.get(i["enjeu"], i["enjeu"])) for i in data["initiatives"]]
        return self._collectivite_draft(
            "application_acknowledged",
            data,
            {
                "year": year,
                "services": data["services"],
                "services_by_enjeu": services_by_enjeu(data["services"], campaign),
                "initiatives": initiatives,
                "reviews": data["reviews_per_application"],
                "submitted_at": french_date(data["submitted_at"]),
            },
            year,
        )

    def on_application_withdrawn(self, data):
        return self.queue(
            data["event_id"],
            self._collectivite_draft(
                "application_withdrawn",
                data,
                {
                    "year": data["campaign_year"],
                    "withdrawn_at": french_date(data["withdrawn_at"]),
                },
                data["campaign_year"],
            ),
        )

    def on_application_reminder_due(self, data):
        return self.queue(
            data["event_id"],
            self._collectivite_draft(
                "application_reminder",
                data,
                {
                    "year": data["campaign_year"],
                    "close_at": french_date(data["submissions_close_at"]),
                    "space_url": f"{self.base_url}/collectivite",
                },
                data["campaign_year"],
            ),
        )

    def on_juror_registered(self, data):
        juror = data["juror"]
        if not juror.get("email"):
            return []
        return self.queue(
            data["event_id"],
            [
                Draft(
                    "welcome_juror",
                    juror["email"],
                    {
                        "juror": juror,
                        "department": data["department"],
                        "space_url": f"{self.base_url}/jure",
                    },
                    name=juror["name"],
                )
            ],
        )

    def on_review_task_claimed(self, data):
        if not data["first_claim"]:
            return []
        return self.queue(
            data["event_id"],
            self._collectivite_draft(
                "review_started",
                data,
                {
                    "year": data["campaign_year"],
                },
                data["campaign_year"],
            ),
        )

    def on_review_tasks_available(self, data):
        juror = data["juror"]
        if not juror.get("email") or data["open_tasks"] < 1:
            return []
        return self.queue(
            data["event_id"],
            [
                Draft(
                    "juror_digest",
                    juror["email"],
                    {
                        "juror": juror,
                        "year": data["campaign_year"],
                        "open_tasks": data["open_tasks"],
                        "space_url": f"{self.base_url}/jure",
                    },
                    name=juror["name"],
                    campaign_year=data["campaign_year"],
                )
            ],
        )

    def on_deliberation_ready(self, data):
        year = data["campaign_year"]
        return self.queue(
            data["event_id"],
            self._organiser_drafts(
                "deliberation_ready",
                {
                    "year": year,
                    "application_count": data["application_count"],
                    "deliberation_url": f"{self.base_url}/organisation/campagnes/{year}/deliberation",
                },
                year,
            ),
        )

    def on_award_decided(self, data):
        return self.on_awards_decided([data])

    def on_awards_decided(self, batch):
        """Queued (in bulk) only once the campaign's release is known here;
        held until then. One release check per campaign of the batch."""
        drafts = []
        for year, awards in group_by_year(batch).items():
            if not self.repos.releases.is_released(year):
                self.repos.held_awards.hold_many(year, awards)
                # The release may have been recorded between our check and the hold:
                # it flushes what it finds held after recording itself, so re-check.
                if not self.repos.releases.is_released(year):
                    log.info("%d award(s) held until the %s release", len(awards), year)
                    continue
            drafts += [(data["event_id"], draft) for data in awards for draft in self._result_drafts(data)]
        return self.queue_all(drafts)

    def on_results_released(self, data):
        year = data["campaign_year"]
        self.repos.releases.mark(year, data)  # first: an award arriving later sees it
        drafts = [
            (data["event_id"], draft)
            for draft in self._organiser_drafts(
                "results_released",
                {
                    "year": year,
                    "labelled_count": data["labelled_count"],
                    "released_by": data["released_by"],
                    "released_at": french_date(data["released_at"]),
                    "pending": data.get("pending") or [],
                    "outbox_url": f"{self.base_url}/organisation/campagnes/{year}/publication",
                },
                year,
            )
        ]
        for held in self.repos.held_awards.for_year(year):
            drafts += [(held["event_id"], draft) for draft in self._result_drafts(held)]
        return self.queue_all(drafts)  # the held results in bulk: one insert_many each collection

    def _result_drafts(self, data):
        col = data["collectivite"]
        return self._collectivite_draft(
            "result",
            data,
            {
                "year": data["campaign_year"],
                "arobases": data["arobases"],
                "mentions": data["mentions"],
                "progression": data["progression"],
                "previous_arobases": data.get("previous_arobases"),
                "progression_text": progression_text(
                    col,
                    data["progression"],
                    data["arobases"],
                    data.get("previous_arobases"),
                    data.get("previous_year"),
                    data["campaign_year"],
                    data.get("previous_declared", False),
                ),
                "ceremony_date": french_date(data["ceremony_at"]),
                # Written at release time: a ceremony already held is told in the past.
                "ceremony_past": parse(data["ceremony_at"]) <= self.now,
                "ceremony_place": data["ceremony_place"],
                # The jury's feedback (scores, mentions proposed, approved comments), if any.
                "feedback": data.get("feedback"),
                "category_plural": CATEGORY_PLURALS.get(col["category"], col["category"]),
            },
            data["campaign_year"],
        )

    def queue_failure_alert(self, email):
        """A result email ended failed: tell the organisers, so no applicant goes without."""
        key = f"{email['_id']}:failed:{email.get('attempts', 0)}"
        col = email.get("collectivite") or {}
        return self.queue(
            key,
            self._organiser_drafts(
                "result_failed_alert",
                {
                    "year": email.get("campaign_year"),
                    "collectivite": {
                        "name": col.get("name", "?"),
                        "kind": col.get("kind"),
                        "tncc": col.get("tncc"),
                    },
                    "recipient": email["recipient"],
                    "attempts": email.get("attempts", 0),
                    "last_error": email.get("last_error") or "",
                    "email_id": email["_id"],
                    "outbox_url": f"{self.base_url}/organisation/courriels/{email['_id']}",
                },
                email.get("campaign_year"),
            ),
        )

    def queue_sign_in(self, data):
        """A sign-in (or address confirmation) link asked for on the web; the
        request id makes a retried RPC queue it once. Carries no text the
        requester wrote: only the links and their fixed labels."""
        return self.queue(
            f"sign-in:{data['request_id']}",
            [
                Draft(
                    "sign_in",
                    data["recipient"],
                    {"purpose": data["purpose"], "links": data["links"], "minutes": data["minutes"]},
                )
            ],
        )

    # -- queueing ------------------------------------------------------------

    def queue(self, event_id, drafts):
        """Render and insert each draft; returns the ids newly queued."""
        return self.queue_all([(event_id, draft) for draft in drafts])

    def queue_all(self, drafts):
        """[(event id, draft)] rendered, then the sendable ones inserted in bulk
        (each email's uniquely keyed insert decides alone); the ids newly queued."""
        sendable = []
        for event_id, draft in drafts:
            doc = self.render_email(event_id, draft)
            if doc["state"] == EmailState.FAILED:
                self._insert_unsendable(doc)
                if doc["kind"] == "result":  # no collectivité goes without its result unnoticed
                    self.queue_failure_alert(doc)
            else:
                sendable.append(doc)
        return [doc["_id"] for doc in self.repos.emails.insert_new_many(sendable)]

    def render_email(self, event_id, draft):
        now = self.now
        doc_id = email_id(event_id, draft.template, draft.recipient)
        refused = None
        try:
            if f"{draft.template}:{draft.recipient}" == self.settings.template_fails_for:
                raise jinja2.TemplateError("fault injection (FAULT_TEMPLATE_FAILS_FOR)")
            subject, text, html = self.renderer.render(draft.template, draft.context)
        except Exception as exc:  # one recipient's data breaks the template: that email fails, not the event
            log.error("email %s (%s) cannot be rendered: %s", doc_id, draft.template, exc)
            subject, text, html = f"(modèle « {draft.template} » en échec)", "", ""
            refused = f"modèle « {draft.template} » impossible à rendre : {exc}"
        doc = {
            "_id": doc_id,
            "event_id": event_id,
            "template": draft.template,
            "kind": "result" if draft.template in RESULT_TEMPLATES else "status",
            "recipient": draft.recipient,
            "recipient_name": draft.name,
            "campaign_year": draft.campaign_year,
            "collectivite": (
                {
                    "id": draft.collectivite["id"],
                    "name": draft.collectivite["name"],
                    "insee_code": draft.collectivite["insee_code"],
                    "kind": draft.collectivite.get("kind"),
                    "tncc": draft.collectivite.get("tncc"),
                }
                if draft.collectivite
                else None
            ),
            "subject": subject,
            "text": text,
            "html": html,
            "message_id": f"<{doc_id}@{message_domain(self.sender)}>",
            "date": now,
            "state": EmailState.QUEUED,
            "attempts": 0,
            "max_attempts": self.max_attempts,
            "next_attempt_at": now,
            "last_error": None,
            "created_at": now,
            "version": 1,
        }
        if refused is not None:
            doc.update(state=EmailState.FAILED, last_error=refused, failed_at=now, next_attempt_at=None)
            return doc
        # Refuse header injection before anything is stored as sendable: the
        # checks build_message makes, without building the message (the
        # sender builds it, once).
        try:
            parse_address(draft.recipient, draft.name)
            check_header_text(subject, "sujet")
        except (InvalidHeader, ValueError) as exc:
            log.warning("email %s (%s) refused: %s", doc_id, draft.template, exc)
            doc.update(
                state=EmailState.FAILED,
                last_error=f"en-tête refusé : {exc}",
                failed_at=now,
                next_attempt_at=None,
            )
        return doc

    def _insert_unsendable(self, doc):
        if self.outbox is None:
            self.repos.emails.insert_new(doc)
            return
        try:
            self.outbox.create("emails", doc, events=[(contracts.EMAIL_FAILED, failed_payload(doc))])
        except Conflict:
            pass  # a redelivery: already recorded


def group_by_year(batch: list[Doc]) -> dict[int, list[Doc]]:
    years: dict[int, list[Doc]] = {}
    for data in batch:
        years.setdefault(data["campaign_year"], []).append(data)
    return years


def sent_payload(doc: Doc) -> Doc:
    return {"email_id": doc["_id"], "template": doc["template"], "recipient": doc["recipient"]}


def failed_payload(doc: Doc) -> Doc:
    return dict(sent_payload(doc), error=str(doc.get("last_error") or "")[:1000])


def backoff(attempt: int, base: float, cap: float) -> timedelta:
    return timedelta(seconds=min(base * 2 ** max(attempt - 1, 0), cap))


def summary(doc: Doc) -> Doc:
    """An outbox row for the organisers' list."""
    return {
        "id": doc["_id"],
        "template": doc["template"],
        "recipient": doc["recipient"],
        "subject": doc.get("subject"),
        "state": doc["state"],
        "attempts": doc.get("attempts", 0),
        "campaign_year": doc.get("campaign_year"),
        "last_error": doc.get("last_error"),
        "created_at": _iso(doc.get("created_at")),
        "sent_at": _iso(doc.get("sent_at")),
        "next_attempt_at": _iso(doc.get("next_attempt_at")) if doc["state"] == EmailState.QUEUED else None,
        "resent_by": doc.get("resent_by"),
    }


def detail(doc: Doc) -> Doc:
    return dict(
        summary(doc),
        message_id=doc.get("message_id"),
        text=doc.get("text"),
        html=doc.get("html"),
        recipient_name=doc.get("recipient_name"),
        event_id=doc.get("event_id"),
        failed_at=_iso(doc.get("failed_at")),
    )


def _iso(value: datetime | None) -> str | None:
    return isoformat(value) if value is not None else None
