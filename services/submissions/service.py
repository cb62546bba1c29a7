"""SubmissionsService: campaigns, collectivités, applications (nameko name "submissions").

Entrypoints only translate; the rules are in logic.py.
"""

import logging

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer

from services.common import contracts, tallies
from services.common.clock import parse, utcnow
from services.common.health import HealthRpc
from services.common.inbox import Inbox, consumes
from services.common.mongo import MongoDatabase
from services.common.relay import Outbox
from services.common.settings import PerProcess, Settings
from services.common.startup import StartupChecks
from services.submissions.logic import Submissions
from services.submissions.repository import ensure_indexes
from services.submissions.settings import ClosedYears, SubmissionsSettings

log = logging.getLogger(__name__)

REMINDER_TIMER_SECONDS = 60
CLOSING_TIMER_SECONDS = 5
EXPIRY_TIMER_SECONDS = 30


class SubmissionsService(HealthRpc):
    name = contracts.SUBMISSIONS

    settings = Settings(SubmissionsSettings.from_config)
    db = MongoDatabase(contracts.SUBMISSIONS, ensure_indexes=ensure_indexes)
    outbox = Outbox(contracts.SUBMISSIONS)
    inbox = Inbox(contracts.SUBMISSIONS)
    startup = StartupChecks()  # no default or short secret outside local mode
    awards = RpcProxy(contracts.AWARDS)  # who decides the release (withdrawals)
    closed_years = PerProcess(lambda config: ClosedYears())

    def _use_cases(self):
        return Submissions(self.db, self.outbox, self.settings, utcnow())

    # -- campaigns -----------------------------------------------------------

    @rpc
    def create_campaign(self, data):
        return self._use_cases().create_campaign(data)

    @rpc
    def list_campaigns(self):
        return self._use_cases().list_campaigns()

    @rpc
    def get_campaign(self, year):
        return self._use_cases().get_campaign(year)

    # -- collectivités -------------------------------------------------------

    @rpc
    def register_collectivite(self, data, trusted=False):
        return self._use_cases().register_collectivite(data, bool(trusted))

    @rpc
    def reassign_collectivite(self, collectivite_id, email):
        return self._use_cases().reassign_collectivite(collectivite_id, email)

    @rpc
    def confirm_collectivite(self, collectivite_id, email=None):
        return self._use_cases().confirm_collectivite(collectivite_id, email)

    @rpc
    def collectivites_by_email(self, email):
        return self._use_cases().collectivites_by_email(email)

    @rpc
    def get_collectivite(self, collectivite_id, principal_role=None, principal_subject=None):
        return self._use_cases().get_collectivite(collectivite_id, principal_role, principal_subject)

    # -- applications --------------------------------------------------------

    @rpc
    def create_application(self, collectivite_id, data):
        return self._use_cases().create_application(collectivite_id, data)

    @rpc
    def get_application(self, application_id, principal_role, principal_subject):
        return self._use_cases().get_application(application_id, principal_role, principal_subject)

    @rpc
    def campaigns_of_collectivite(self, collectivite_id, recent_closed):
        return self._use_cases().campaigns_of_collectivite(str(collectivite_id), int(recent_closed))

    @rpc
    def list_applications(self, year, principal_role, principal_subject, state=None, after=None, limit=None):
        return self._use_cases().list_applications(
            year, principal_role, principal_subject, state, after, limit
        )

    @rpc
    def search_applications(self, year, filters, after=None, start=None):
        return self._use_cases().search_applications(year, filters, after, start)

    @rpc
    def application_counts(self, year):
        return self._use_cases().application_counts(year)

    @rpc
    def update_application(self, application_id, principal_role, principal_subject, data):
        return self._use_cases().update_application(application_id, principal_role, principal_subject, data)

    @rpc
    def submit_application(self, application_id, principal_role, principal_subject):
        return self._use_cases().submit_application(application_id, principal_role, principal_subject)

    @rpc
    def withdraw_application(self, application_id, principal_role, principal_subject):
        return self._use_cases().withdraw_application(
            application_id,
            principal_role,
            principal_subject,
            release_frozen=lambda year: self.awards.release_state(year)["frozen"],
        )

    # -- baromètre, Atlaas, pré-diagnostic ------------------------------------

    @rpc
    def barometre_years(self):
        return self._use_cases().barometre_years()

    @rpc
    def barometre(self, year):
        return self._use_cases().barometre(year)

    @rpc
    def search_initiatives(self, filters):
        return self._use_cases().search_initiatives(filters)

    @rpc
    def prediagnostic(self, collectivite_id, principal_role, principal_subject):
        return self._use_cases().prediagnostic(collectivite_id, principal_role, principal_subject)

    # -- events and timers ---------------------------------------------------

    @consumes(contracts.RESULTS_RELEASED)
    def on_results_released(self, data):
        self._use_cases().mark_released(data["campaign_year"], parse(data["released_at"]))

    @timer(interval=REMINDER_TIMER_SECONDS)
    def remind_drafts(self):
        return self._use_cases().send_reminders(self.settings.reminder_days_before_deadline)

    @timer(interval=EXPIRY_TIMER_SECONDS)
    def expire_unconfirmed(self):
        return self._use_cases().expire_unconfirmed()

    @timer(interval=CLOSING_TIMER_SECONDS)
    def close_submissions(self):
        years = self._use_cases().close_submissions(already_closed=self.closed_years.years)
        self.closed_years.years.update(years)
        return years

    @timer(interval=tallies.REFRESH_SECONDS)
    def refresh_tallies(self):
        return self._use_cases().refresh_tallies()
