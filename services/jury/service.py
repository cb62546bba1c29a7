"""JuryService: jurors, review tasks (claims with a lease), reviews and the
consolidated proposal per application. Entrypoints only translate; the rules
are in logic.py."""

from nameko.rpc import rpc
from nameko.timer import Timer, timer

from services.common import contracts, tallies, tokens
from services.common.clock import utcnow
from services.common.health import HealthRpc
from services.common.inbox import Inbox, consumes, consumes_batch
from services.common.mongo import MongoDatabase
from services.common.reference import campaign_year
from services.common.relay import Outbox
from services.common.settings import PerProcess, Settings
from services.common.startup import StartupChecks
from services.common.validation import load
from services.jury import schemas
from services.jury.logic import JuryDesk
from services.jury.repository import Repositories, ShelfLists, TaskSnapshots, ensure_indexes
from services.jury.settings import JurySettings


class SettingTimer(Timer):
    """A nameko timer whose interval (seconds) is one of the jury settings."""

    def __init__(self, setting, **kwargs):
        self.setting = setting
        super().__init__(interval=3600, **kwargs)

    def setup(self):
        self.interval = getattr(JurySettings.from_config(self.container.config), self.setting)


setting_timer = SettingTimer.decorator

# A consolidation owed and not done (a crash after a review) is run again this often.
CONSOLIDATION_SWEEP_SECONDS = 10
# How stale a deliberation page's shelf list may be: only another replica's
# newly submitted application can be missing from it (repository.ShelfLists).
SHELF_LIST_SECONDS = 60


class JuryService(HealthRpc):
    name = contracts.JURY

    settings = Settings(JurySettings.from_config)
    db = MongoDatabase(contracts.JURY, ensure_indexes=ensure_indexes)
    outbox = Outbox(contracts.JURY)
    inbox = Inbox(contracts.JURY)
    startup = StartupChecks()  # no default or short secret outside local mode
    # One TaskSnapshots per container, shared by its workers (see repository.py).
    snapshots = PerProcess(lambda config: TaskSnapshots())
    shelf_lists = PerProcess(lambda config: ShelfLists(SHELF_LIST_SECONDS))

    def _use_cases(self):
        secret, lifetime, now = self.settings.secret_key, self.settings.token_lifetime, utcnow()
        return JuryDesk(
            Repositories(self.db),
            self.outbox,
            self.settings.claim_lease,
            now,
            token_for=lambda juror_id: tokens.issue(secret, "juror", juror_id, now, lifetime),
            snapshots=self.snapshots,
            shelf_lists=self.shelf_lists,
        )

    # -- RPC (called by the gateway) ------------------------------------

    @rpc
    def register_juror(self, data):
        return self._use_cases().register_juror(load(schemas.JurorRegistration(), data))

    @rpc
    def get_juror(self, juror_id):
        return self._use_cases().juror_view(juror_id)

    @rpc
    def list_tasks(self, juror_id, query):
        query = load(schemas.TaskListQuery(), query)
        return self._use_cases().list_tasks(
            juror_id, query["state"], query["campaign_year"], query["after"], query["limit"]
        )

    @rpc
    def claim(self, juror_id, data):
        return self._use_cases().claim(juror_id, load(schemas.ClaimRequest(), data)["campaign_year"])

    @rpc
    def task_dossier(self, juror_id, task_id):
        return self._use_cases().dossier(juror_id, task_id)

    @rpc
    def declare_conflict(self, juror_id, task_id):
        return self._use_cases().declare_conflict(juror_id, task_id)

    @rpc
    def list_jurors(self):
        return self._use_cases().jurors_with_load()

    @rpc
    def jurors_page(self):
        return self._use_cases().jurors_page()

    @rpc
    def campaign_progress(self, campaign_year):
        return self._use_cases().campaign_progress(int(campaign_year))

    @rpc
    def jurors_by_email(self, email):
        return self._use_cases().jurors_by_email(email)

    @rpc
    def release(self, juror_id, task_id):
        return self._use_cases().release(juror_id, task_id)

    @rpc
    def submit_review(self, juror_id, task_id, data):
        return self._use_cases().submit_review(juror_id, task_id, load(schemas.Review(), data))

    @rpc
    def deliberation(self, year):
        return self._use_cases().deliberation(campaign_year(year))

    @rpc
    def deliberation_page(self, year, after=None, limit=200, disagreements=False):
        args = load(
            schemas.DeliberationPage(), {"after": after, "limit": limit, "disagreements": disagreements}
        )
        return self._use_cases().deliberation_page(
            campaign_year(year), args["after"], args["limit"], args["disagreements"]
        )

    @rpc
    def deliberation_row(self, application_id):
        return self._use_cases().deliberation_row(str(application_id))

    # -- events -----------------------------------------------------------

    @consumes(contracts.CAMPAIGN_OPENED)
    def on_campaign_opened(self, data):
        self._use_cases().campaign_opened(data)

    # A campaign's submissions come by the thousand near its deadline: taken many at once.
    @consumes_batch(contracts.APPLICATION_SUBMITTED)
    def on_application_submitted(self, batch):
        self._use_cases().applications_submitted(batch)

    @consumes(contracts.RESULTS_RELEASED)
    def on_results_released(self, data):
        self._use_cases().results_released(data)

    @consumes(contracts.APPLICATION_WITHDRAWN)
    def on_application_withdrawn(self, data):
        self._use_cases().application_withdrawn(data)

    # -- timers -------------------------------------------------------------

    @timer(interval=CONSOLIDATION_SWEEP_SECONDS)
    def sweep_consolidations(self):
        return self._use_cases().sweep_consolidations()

    @setting_timer("digest_seconds")
    def send_digests(self):
        return self._use_cases().send_digests()

    @setting_timer("snapshot_seconds")
    def refresh_claim_copies(self):
        return self._use_cases().refresh_claim_copies()

    @timer(interval=tallies.REFRESH_SECONDS)
    def refresh_tallies(self):
        return self._use_cases().refresh_tallies()
