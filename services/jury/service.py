"""JuryService: jurors, review tasks (claims with a lease), reviews and the
consolidated proposal per application. Entrypoints only translate; the rules
are in logic.py."""

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.timer import Timer

from services.common import contracts, tokens
from services.common.clock import utcnow
from services.common.health import HealthRpc
from services.common.inbox import Inbox, consumes
from services.common.mongo import MongoDatabase
from services.common.relay import Outbox
from services.common.startup import StartupChecks
from services.common.validation import load
from services.jury import schemas
from services.jury.logic import JuryDesk
from services.jury.repository import Repositories, TaskSnapshots, ensure_indexes


class ConfigTimer(Timer):
    """A nameko timer whose interval comes from the config (seconds)."""

    def __init__(self, config_key, default, **kwargs):
        self.config_key = config_key
        self.default = default
        super().__init__(interval=default, **kwargs)

    def setup(self):
        self.interval = float(self.container.config.get(self.config_key) or self.default)


config_timer = ConfigTimer.decorator


class Snapshots(DependencyProvider):
    """One TaskSnapshots per container, shared by its workers (see repository.py)."""

    def setup(self):
        self.snapshots = TaskSnapshots(float(self.container.config.get("CLAIM_SNAPSHOT_SECONDS") or 30.0))

    def get_dependency(self, worker_ctx):
        return self.snapshots


class JuryService(HealthRpc):
    name = contracts.JURY

    config = Config()
    db = MongoDatabase(contracts.JURY, ensure_indexes=ensure_indexes)
    outbox = Outbox(contracts.JURY)
    inbox = Inbox(contracts.JURY)
    startup = StartupChecks()  # no default or short secret outside local mode
    snapshots = Snapshots()

    def _desk(self):
        secret = self.config["LABEL_SECRET_KEY"]
        return JuryDesk(
            Repositories(self.db),
            self.outbox,
            self.config,
            utcnow(),
            token_for=lambda juror_id: tokens.issue(secret, "juror", juror_id),
            snapshots=self.snapshots,
        )

    # -- RPC (called by the gateway) ------------------------------------

    @rpc
    def register_juror(self, data):
        return self._desk().register_juror(load(schemas.JurorRegistration(), data))

    @rpc
    def get_juror(self, juror_id):
        return self._desk().juror_view(juror_id)

    @rpc
    def list_tasks(self, juror_id, query):
        query = load(schemas.TaskListQuery(), query)
        return self._desk().list_tasks(juror_id, query["state"], query["campaign_year"])

    @rpc
    def claim(self, juror_id, data):
        return self._desk().claim(juror_id, load(schemas.ClaimRequest(), data)["campaign_year"])

    @rpc
    def task_dossier(self, juror_id, task_id):
        return self._desk().dossier(juror_id, task_id)

    @rpc
    def declare_conflict(self, juror_id, task_id):
        return self._desk().declare_conflict(juror_id, task_id)

    @rpc
    def list_jurors(self):
        return self._desk().jurors_with_load()

    @rpc
    def campaign_progress(self, campaign_year):
        return self._desk().campaign_progress(int(campaign_year))

    @rpc
    def jurors_by_email(self, email):
        return self._desk().jurors_by_email(email)

    @rpc
    def release(self, juror_id, task_id):
        return self._desk().release(juror_id, task_id)

    @rpc
    def submit_review(self, juror_id, task_id, data):
        return self._desk().submit_review(juror_id, task_id, load(schemas.Review(), data))

    @rpc
    def deliberation(self, year):
        return self._desk().deliberation(int(year))

    # -- events -----------------------------------------------------------

    @consumes(contracts.CAMPAIGN_OPENED)
    def on_campaign_opened(self, data):
        self._desk().campaign_opened(data)

    @consumes(contracts.APPLICATION_SUBMITTED)
    def on_application_submitted(self, data):
        self._desk().application_submitted(data)

    @consumes(contracts.APPLICATION_WITHDRAWN)
    def on_application_withdrawn(self, data):
        self._desk().application_withdrawn(data)

    # -- timer --------------------------------------------------------------

    @config_timer("REVIEW_DIGEST_SECONDS", 600)
    def send_digests(self):
        return self._desk().send_digests()
