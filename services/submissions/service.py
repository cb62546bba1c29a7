"""SubmissionsService: campaigns, collectivités, applications (nameko name "submissions").

Entrypoints only translate; the rules are in logic.py.
"""

import logging

from nameko.dependency_providers import Config
from nameko.rpc import rpc
from nameko.timer import timer

from services.common import contracts
from services.common.clock import parse
from services.common.health import HealthRpc
from services.common.inbox import Inbox, consumes
from services.common.mongo import MongoDatabase
from services.common.relay import Outbox
from services.common.startup import StartupChecks
from services.submissions.logic import Submissions
from services.submissions.repository import ensure_indexes

log = logging.getLogger(__name__)

REMINDER_TIMER_SECONDS = 60
CLOSING_TIMER_SECONDS = 5

# (database, year) whose submissions_closed is recorded, per process: spares the timer a
# failing insert every tick (the ledger's unique key is what really guards it).
_CLOSED_YEARS = set()


class SubmissionsService(HealthRpc):
    name = "submissions"

    db = MongoDatabase("submissions", ensure_indexes=ensure_indexes)
    outbox = Outbox("submissions")
    inbox = Inbox("submissions")
    startup = StartupChecks()  # no default or short secret outside local mode
    config = Config()

    def _logic(self):
        return Submissions(self.db, self.outbox, self.config)

    # -- campaigns -----------------------------------------------------------

    @rpc
    def create_campaign(self, data):
        return self._logic().create_campaign(data)

    @rpc
    def list_campaigns(self):
        return self._logic().list_campaigns()

    @rpc
    def get_campaign(self, year):
        return self._logic().get_campaign(year)

    # -- collectivités -------------------------------------------------------

    @rpc
    def register_collectivite(self, data):
        return self._logic().register_collectivite(data)

    @rpc
    def collectivites_by_email(self, email):
        return self._logic().collectivites_by_email(email)

    @rpc
    def get_collectivite(self, collectivite_id, principal_role=None, principal_subject=None):
        return self._logic().get_collectivite(collectivite_id, principal_role, principal_subject)

    # -- applications --------------------------------------------------------

    @rpc
    def create_application(self, collectivite_id, data):
        return self._logic().create_application(collectivite_id, data)

    @rpc
    def get_application(self, application_id, principal_role, principal_subject):
        return self._logic().get_application(application_id, principal_role, principal_subject)

    @rpc
    def list_applications(self, year, principal_role, principal_subject, state=None):
        return self._logic().list_applications(year, principal_role, principal_subject, state)

    @rpc
    def search_applications(self, year, filters, page=1):
        return self._logic().search_applications(year, filters, int(page))

    @rpc
    def application_counts(self, year):
        return self._logic().application_counts(year)

    @rpc
    def update_application(self, application_id, principal_role, principal_subject, data):
        return self._logic().update_application(application_id, principal_role, principal_subject, data)

    @rpc
    def submit_application(self, application_id, principal_role, principal_subject):
        return self._logic().submit_application(application_id, principal_role, principal_subject)

    @rpc
    def withdraw_application(self, application_id, principal_role, principal_subject):
        return self._logic().withdraw_application(application_id, principal_role, principal_subject)

    # -- events and timers ---------------------------------------------------

    @consumes(contracts.RESULTS_RELEASED)
    def on_results_released(self, data):
        self._logic().mark_released(data["campaign_year"], parse(data["released_at"]))

    @timer(interval=REMINDER_TIMER_SECONDS)
    def remind_drafts(self):
        days = float(self.config.get("REMINDER_DAYS_BEFORE_DEADLINE", 7))
        return self._logic().send_reminders(days)

    @timer(interval=CLOSING_TIMER_SECONDS)
    def close_submissions(self):
        database = self.db.name
        done = {year for name, year in _CLOSED_YEARS if name == database}
        years = self._logic().close_submissions(already_closed=done)
        _CLOSED_YEARS.update((database, year) for year in years)
        return years
