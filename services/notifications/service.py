"""NotificationsService: status emails, queued in an outbox, sent over SMTP.

Entrypoints only translate: events → logic.Notifications, the send timer →
sender.Sender, RPC (the gateway's outbox routes) → repository reads.
"""

import logging

from nameko.rpc import rpc
from nameko.timer import timer

from services.common import contracts, tallies
from services.common.clock import utcnow
from services.common.errors import Conflict, NotFound
from services.common.health import HealthRpc
from services.common.inbox import Inbox, consumes, consumes_batch
from services.common.mongo import MongoDatabase
from services.common.relay import Outbox
from services.common.settings import PerProcess, Settings
from services.common.startup import StartupChecks
from services.common.validation import load
from services.notifications import logic, schemas
from services.notifications.repository import Repositories, ensure_indexes
from services.notifications.sender import Sender
from services.notifications.settings import NotificationsSettings, SenderState, check_smtp_url

log = logging.getLogger(__name__)

RENDERER = logic.Renderer()
# The timer waits for the previous run to finish; a run drains up to
# SMTP_MAX_BATCHES_PER_RUN batches, so a big release keeps flowing.
SEND_INTERVAL_SECONDS = 0.5


class NotificationsService(HealthRpc):
    name = contracts.NOTIFICATIONS

    settings = Settings(NotificationsSettings.from_config)
    db = MongoDatabase(contracts.NOTIFICATIONS, ensure_indexes=ensure_indexes)
    outbox = Outbox(contracts.NOTIFICATIONS)
    inbox = Inbox(contracts.NOTIFICATIONS)
    # no default/short secret; an SMTP_URL that would send credentials in clear is refused
    startup = StartupChecks(check_smtp_url)
    sender_state = PerProcess(lambda config: SenderState())

    def _use_cases(self):
        return logic.Notifications(
            Repositories(self.db), RENDERER, self.settings, utcnow(), outbox=self.outbox
        )

    # -- events --------------------------------------------------------------

    @consumes(contracts.CAMPAIGN_OPENED)
    def on_campaign_opened(self, data):
        return self._use_cases().on_campaign_opened(data)

    @consumes(contracts.COLLECTIVITE_REGISTERED)
    def on_collectivite_registered(self, data):
        return self._use_cases().on_collectivite_registered(data)

    @consumes_batch(contracts.APPLICATION_SUBMITTED)
    def on_application_submitted(self, batch):
        return self._use_cases().on_applications_submitted(batch)

    @consumes(contracts.APPLICATION_WITHDRAWN)
    def on_application_withdrawn(self, data):
        return self._use_cases().on_application_withdrawn(data)

    @consumes(contracts.APPLICATION_REMINDER_DUE)
    def on_application_reminder_due(self, data):
        return self._use_cases().on_application_reminder_due(data)

    @consumes(contracts.JUROR_REGISTERED)
    def on_juror_registered(self, data):
        return self._use_cases().on_juror_registered(data)

    @consumes(contracts.REVIEW_TASK_CLAIMED)
    def on_review_task_claimed(self, data):
        return self._use_cases().on_review_task_claimed(data)

    @consumes(contracts.REVIEW_TASKS_AVAILABLE)
    def on_review_tasks_available(self, data):
        return self._use_cases().on_review_tasks_available(data)

    @consumes(contracts.DELIBERATION_READY)
    def on_deliberation_ready(self, data):
        return self._use_cases().on_deliberation_ready(data)

    # A release sends one per labelled collectivité: taken many at once.
    @consumes_batch(contracts.AWARD_DECIDED)
    def on_award_decided(self, batch):
        return self._use_cases().on_awards_decided(batch)

    @consumes(contracts.RESULTS_RELEASED)
    def on_results_released(self, data):
        return self._use_cases().on_results_released(data)

    # -- sending -------------------------------------------------------------

    @timer(interval=SEND_INTERVAL_SECONDS)
    def send_due(self):
        sender = Sender(
            Repositories(self.db), self.outbox, self._use_cases(), self.settings, self.sender_state
        )
        totals = sender.run()
        if totals["sent"] or totals["retry"] or totals["failed"]:
            log.info("outbox run: %s", totals)
        return totals

    @timer(interval=tallies.REFRESH_SECONDS)
    def refresh_tallies(self):
        return self._use_cases().refresh_tallies()

    # -- RPC (gateway: Mail routes) --------------------------------------------

    @rpc
    def list_outbox(self, state=None, limit=500, after=None, recipient=None):
        args = load(
            schemas.ListOutbox(), {"state": state, "limit": limit, "after": after, "recipient": recipient}
        )
        docs = Repositories(self.db).emails.listing(
            args["state"], args["limit"], args["after"], args["recipient"]
        )
        return [logic.summary(doc) for doc in docs]

    @rpc
    def outbox_queue(self, limit=100):
        args = load(schemas.OutboxQueue(), {"limit": limit})
        return [logic.summary(doc) for doc in Repositories(self.db).emails.next_queued(args["limit"])]

    @rpc
    def campaign_mail(self, campaign_year, kind=None):
        return self._use_cases().campaign_mail(int(campaign_year), kind)

    @rpc
    def get_email(self, email_id):
        args = load(schemas.EmailRef(), {"id": email_id})
        doc = Repositories(self.db).emails.get(args["id"])
        if doc is None:
            raise NotFound("Courriel introuvable.", "email_not_found")
        return logic.detail(doc)

    @rpc
    def send_sign_in(self, data):
        return self._use_cases().queue_sign_in(load(schemas.SignInEmail(), data))

    @rpc
    def resend(self, email_id, by=None):
        args = load(schemas.EmailRef(), {"id": email_id})
        repos = Repositories(self.db)
        doc = repos.emails.get(args["id"])
        if doc is None:
            raise NotFound("Courriel introuvable.", "email_not_found")
        not_failed = Conflict("Seul un courriel en échec peut être renvoyé.", "email_not_failed")
        if doc["state"] != logic.EmailState.FAILED:
            raise not_failed
        if not repos.emails.requeue(doc, utcnow(), self.settings.max_attempts, by):
            raise not_failed  # a concurrent resend (or send) changed it first
        return logic.summary(repos.emails.get(args["id"]))
