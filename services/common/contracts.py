"""Event contracts: every event's name, producing service and payload schema.

Defined once; producers validate what they emit (`Event.build`) and consumers
validate what they receive (`@consumes`). Every payload carries the envelope
fields `event_id` (deterministic, see ledger.py), `event` and `occurred_at`.
Consumers ignore unknown fields, so a producer may add fields without breaking
them; removing or renaming one is a breaking change.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from services.common.types import Doc

SUBMISSIONS = "submissions"
JURY = "jury"
AWARDS = "awards"
NOTIFICATIONS = "notifications"
GATEWAY = "gateway"

SERVICES = (SUBMISSIONS, JURY, AWARDS, NOTIFICATIONS)


class EventSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    event_id = fields.String(required=True)
    event = fields.String(required=True)
    occurred_at = fields.String(required=True)


class _Nested(Schema):
    class Meta:
        unknown = EXCLUDE


class CollectiviteRef(_Nested):
    id = fields.String(required=True)
    insee_code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["commune", "epci"]))
    category = fields.String(required=True, validate=validate.OneOf(["ville", "village", "territoire"]))
    department = fields.String(required=True)
    region = fields.String(required=True)
    population = fields.Integer(required=True)
    email = fields.String(required=True, allow_none=True)
    member_communes = fields.List(fields.String(), load_default=list)
    # INSEE's type of name (placenames.py); None: read from the name.
    tncc = fields.Integer(load_default=None, allow_none=True)


class CodeLabel(_Nested):
    code = fields.String(required=True)
    label = fields.String(required=True)


class InitiativeRef(_Nested):
    title = fields.String(required=True)
    enjeu = fields.String(required=True)
    description = fields.String(required=True)
    url = fields.String(allow_none=True, load_default=None)
    # Consent to the public directory (Atlaas) after the release; absent in older events.
    publish = fields.Boolean(load_default=False)


class Proposal(_Nested):
    arobases = fields.Integer(required=True, validate=validate.Range(1, 5))
    mentions = fields.List(fields.String(), required=True)


class ReviewRef(_Nested):
    review_id = fields.String(required=True)
    juror_id = fields.String(required=True)
    arobases = fields.Integer(required=True, validate=validate.Range(1, 5))
    mentions = fields.List(fields.String(), required=True)
    # None: the juror found the enjeu "non applicable".
    scores = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True), required=True)
    comment = fields.String(load_default="")


class PersonRef(_Nested):
    id = fields.String(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True, allow_none=True)


# --- submissions ---------------------------------------------------------


class EnjeuRef(CodeLabel):
    # The grid's services of this enjeu, so that emails name them by their labels.
    services = fields.List(fields.Nested(CodeLabel), load_default=list)


class CampaignOpened(EventSchema):
    year = fields.Integer(required=True)
    title = fields.String(required=True)
    submissions_open_at = fields.String(required=True)
    submissions_close_at = fields.String(required=True)
    ceremony_at = fields.String(required=True)
    ceremony_place = fields.String(required=True)
    reviews_per_application = fields.Integer(required=True)
    enjeux = fields.List(fields.Nested(EnjeuRef), required=True)
    mentions = fields.List(fields.Nested(CodeLabel), required=True)


class CollectiviteRegistered(EventSchema):
    collectivite = fields.Nested(CollectiviteRef, required=True)


class ApplicationSubmitted(EventSchema):
    application_id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    collectivite = fields.Nested(CollectiviteRef, required=True)
    services = fields.List(fields.String(), required=True)
    initiatives = fields.List(fields.Nested(InitiativeRef), required=True)
    reviews_per_application = fields.Integer(required=True)
    enjeux = fields.List(fields.String(), required=True)
    mentions = fields.List(fields.String(), required=True)
    submitted_at = fields.String(required=True)
    # The level the applicant says it had (used when the label's history has none).
    declared_previous_arobases = fields.Integer(allow_none=True, load_default=None)


class ApplicationWithdrawn(EventSchema):
    application_id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    collectivite = fields.Nested(CollectiviteRef, required=True)
    withdrawn_at = fields.String(required=True)


class ApplicationReminderDue(EventSchema):
    """A draft still unsubmitted a few days before the deadline (sent once)."""

    application_id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    collectivite = fields.Nested(CollectiviteRef, required=True)
    submissions_close_at = fields.String(required=True)


class SubmissionsClosed(EventSchema):
    campaign_year = fields.Integer(required=True)
    submitted_count = fields.Integer(required=True)


# --- jury ----------------------------------------------------------------


class JurorRegistered(EventSchema):
    juror = fields.Nested(PersonRef, required=True)
    department = fields.String(required=True)


class ReviewTaskClaimed(EventSchema):
    task_id = fields.String(required=True)
    application_id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    juror_id = fields.String(required=True)
    collectivite = fields.Nested(CollectiviteRef, required=True)
    first_claim = fields.Boolean(required=True)  # the application's review has just started


class ReviewSubmitted(EventSchema):
    task_id = fields.String(required=True)
    application_id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    review = fields.Nested(ReviewRef, required=True)


class ApplicationReviewed(EventSchema):
    application_id = fields.String(required=True)
    campaign_year = fields.Integer(required=True)
    collectivite = fields.Nested(CollectiviteRef, required=True)
    proposal = fields.Nested(Proposal, required=True)
    reviews = fields.List(fields.Nested(ReviewRef), required=True)
    disagreement = fields.Boolean(required=True)


class ReviewTasksAvailable(EventSchema):
    """A digest for one juror: tasks they may claim are waiting."""

    campaign_year = fields.Integer(required=True)
    juror = fields.Nested(PersonRef, required=True)
    open_tasks = fields.Integer(required=True)


# --- awards --------------------------------------------------------------


class DeliberationReady(EventSchema):
    """Every application of the campaign has a proposal (to the organisers)."""

    campaign_year = fields.Integer(required=True)
    application_count = fields.Integer(required=True)


class ScoreAgainstCategory(_Nested):
    enjeu = fields.String(required=True)
    label = fields.String(required=True)
    score = fields.Float(allow_none=True, load_default=None)  # None: no juror scored it
    category_average = fields.Float(allow_none=True, load_default=None)


class Feedback(_Nested):
    """The jury's feedback to one collectivité (awards/feedback.py): never a juror's identity."""

    category = fields.String(required=True)
    scores = fields.List(fields.Nested(ScoreAgainstCategory), required=True)
    proposed_mentions = fields.List(fields.Nested(CodeLabel), load_default=list)
    comments = fields.List(fields.String(), load_default=list)  # approved by an organiser


class AwardDecided(EventSchema):
    """One per labelled collectivité, emitted only by the release."""

    campaign_year = fields.Integer(required=True)
    application_id = fields.String(required=True)
    collectivite = fields.Nested(CollectiviteRef, required=True)
    arobases = fields.Integer(required=True, validate=validate.Range(1, 5))
    mentions = fields.List(fields.Nested(CodeLabel), required=True)
    progression = fields.String(
        required=True, validate=validate.OneOf(["new", "kept", "gained", "lost", "back"])
    )
    previous_arobases = fields.Integer(allow_none=True, load_default=None)
    previous_year = fields.Integer(allow_none=True, load_default=None)  # of the last label before
    previous_declared = fields.Boolean(load_default=False)  # previous_arobases as the applicant declared it
    ceremony_at = fields.String(required=True)
    ceremony_place = fields.String(required=True)
    feedback = fields.Nested(Feedback, allow_none=True, load_default=None)


class ResultsReleased(EventSchema):
    campaign_year = fields.Integer(required=True)
    released_at = fields.String(required=True)
    released_by = fields.String(required=True)
    labelled_count = fields.Integer(required=True)
    pending = fields.List(fields.String(), load_default=list)
    # Why it was released before the submissions closed (forced), else None.
    early_release_reason = fields.String(load_default=None, allow_none=True)


# --- notifications -------------------------------------------------------


class EmailSent(EventSchema):
    email_id = fields.String(required=True)
    template = fields.String(required=True)
    recipient = fields.String(required=True)


class EmailFailed(EventSchema):
    email_id = fields.String(required=True)
    template = fields.String(required=True)
    recipient = fields.String(required=True)
    error = fields.String(required=True)


@dataclass(frozen=True)
class Event:
    name: str
    source: str
    schema: type[Schema]

    def validate(self, payload: Mapping[str, Any]) -> Doc:
        """Return the payload loaded by the schema, or raise ValidationError."""
        loaded: Doc = _schema_instance(self.schema).load(payload)
        return loaded


@functools.cache
def _schema_instance(schema_class: type[Schema]) -> Schema:
    # One instance per schema: building one costs about a millisecond, and a
    # release validates one award_decided per labelled collectivité.
    return schema_class()


CAMPAIGN_OPENED = Event("campaign_opened", SUBMISSIONS, CampaignOpened)
COLLECTIVITE_REGISTERED = Event("collectivite_registered", SUBMISSIONS, CollectiviteRegistered)
APPLICATION_SUBMITTED = Event("application_submitted", SUBMISSIONS, ApplicationSubmitted)
APPLICATION_WITHDRAWN = Event("application_withdrawn", SUBMISSIONS, ApplicationWithdrawn)
APPLICATION_REMINDER_DUE = Event("application_reminder_due", SUBMISSIONS, ApplicationReminderDue)
SUBMISSIONS_CLOSED = Event("submissions_closed", SUBMISSIONS, SubmissionsClosed)
JUROR_REGISTERED = Event("juror_registered", JURY, JurorRegistered)
REVIEW_TASK_CLAIMED = Event("review_task_claimed", JURY, ReviewTaskClaimed)
REVIEW_SUBMITTED = Event("review_submitted", JURY, ReviewSubmitted)
APPLICATION_REVIEWED = Event("application_reviewed", JURY, ApplicationReviewed)
REVIEW_TASKS_AVAILABLE = Event("review_tasks_available", JURY, ReviewTasksAvailable)
DELIBERATION_READY = Event("deliberation_ready", AWARDS, DeliberationReady)
AWARD_DECIDED = Event("award_decided", AWARDS, AwardDecided)
RESULTS_RELEASED = Event("results_released", AWARDS, ResultsReleased)
EMAIL_SENT = Event("email_sent", NOTIFICATIONS, EmailSent)
EMAIL_FAILED = Event("email_failed", NOTIFICATIONS, EmailFailed)

EVENTS = {
    event.name: event
    for event in (
        CAMPAIGN_OPENED,
        COLLECTIVITE_REGISTERED,
        APPLICATION_SUBMITTED,
        APPLICATION_WITHDRAWN,
        APPLICATION_REMINDER_DUE,
        SUBMISSIONS_CLOSED,
        JUROR_REGISTERED,
        REVIEW_TASK_CLAIMED,
        REVIEW_SUBMITTED,
        APPLICATION_REVIEWED,
        REVIEW_TASKS_AVAILABLE,
        DELIBERATION_READY,
        AWARD_DECIDED,
        RESULTS_RELEASED,
        EMAIL_SENT,
        EMAIL_FAILED,
    )
}

# Who consumes what: (event, consuming service, handler method). topology.py
# declares these queues at start-up, before any producer publishes, with the
# exact names nameko's event_handler uses; @consumes checks its own entry is here.
SUBSCRIPTIONS = (
    (CAMPAIGN_OPENED, JURY, "on_campaign_opened"),
    (CAMPAIGN_OPENED, AWARDS, "on_campaign_opened"),
    (CAMPAIGN_OPENED, NOTIFICATIONS, "on_campaign_opened"),
    (COLLECTIVITE_REGISTERED, NOTIFICATIONS, "on_collectivite_registered"),
    (APPLICATION_SUBMITTED, JURY, "on_application_submitted"),
    (APPLICATION_SUBMITTED, AWARDS, "on_application_submitted"),
    (APPLICATION_SUBMITTED, NOTIFICATIONS, "on_application_submitted"),
    (APPLICATION_WITHDRAWN, JURY, "on_application_withdrawn"),
    (APPLICATION_WITHDRAWN, AWARDS, "on_application_withdrawn"),
    (APPLICATION_WITHDRAWN, NOTIFICATIONS, "on_application_withdrawn"),
    (APPLICATION_REMINDER_DUE, NOTIFICATIONS, "on_application_reminder_due"),
    (JUROR_REGISTERED, NOTIFICATIONS, "on_juror_registered"),
    (REVIEW_TASK_CLAIMED, NOTIFICATIONS, "on_review_task_claimed"),
    (REVIEW_TASKS_AVAILABLE, NOTIFICATIONS, "on_review_tasks_available"),
    (APPLICATION_REVIEWED, AWARDS, "on_application_reviewed"),
    (DELIBERATION_READY, NOTIFICATIONS, "on_deliberation_ready"),
    (AWARD_DECIDED, NOTIFICATIONS, "on_award_decided"),
    (RESULTS_RELEASED, NOTIFICATIONS, "on_results_released"),
    (RESULTS_RELEASED, SUBMISSIONS, "on_results_released"),
    (RESULTS_RELEASED, JURY, "on_results_released"),
)


def handler_queue(source: str, event_name: str, consumer: str, method: str) -> str:
    """The queue nameko's SERVICE_POOL event_handler declares: the only place
    this naming rule is written (topology declares it, dead letters go back to it)."""
    return f"evt-{source}-{event_name}--{consumer}.{method}"


def queue_name(event: Event, consumer: str, method: str) -> str:
    """The queue of one subscription (contracts.SUBSCRIPTIONS)."""
    return handler_queue(event.source, event.name, consumer, method)


def check_payload(event: Event, payload: Mapping[str, Any]) -> Doc:
    """Producer side: raise ValueError when a payload breaks its contract."""
    try:
        return event.validate(payload)
    except ValidationError as exc:
        raise ValueError(f"{event.name} payload breaks its contract: {exc.messages}") from None
