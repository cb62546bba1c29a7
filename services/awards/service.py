"""AwardsService: decisions, embargo, release and palmarès (API.md "Deliberation and ceremony")."""

from nameko.rpc import rpc
from nameko.timer import timer

from services.awards import logic
from services.awards.repository import AwardsRepository, ensure_indexes
from services.awards.schemas import DecisionSchema, ReleaseSchema
from services.common import contracts
from services.common.health import HealthRpc
from services.common.inbox import Inbox, consumes
from services.common.mongo import MongoDatabase
from services.common.relay import Outbox
from services.common.startup import StartupChecks
from services.common.validation import load

READY_CHECK_SECONDS = 2
# How often a release interrupted by a crash is looked for and finished.
RELEASE_RECOVERY_SECONDS = 10


class AwardsService(HealthRpc):
    name = "awards"

    db = MongoDatabase("awards", ensure_indexes=ensure_indexes)
    outbox = Outbox("awards")
    inbox = Inbox("awards")
    startup = StartupChecks()  # no default or short secret outside local mode

    @property
    def awards(self):
        return logic.Awards(AwardsRepository(self.db), self.outbox)

    # events

    @consumes(contracts.CAMPAIGN_OPENED)
    def on_campaign_opened(self, data):
        self.awards.campaign_opened(data)

    @consumes(contracts.APPLICATION_SUBMITTED)
    def on_application_submitted(self, data):
        self.awards.application_submitted(data)

    @consumes(contracts.APPLICATION_WITHDRAWN)
    def on_application_withdrawn(self, data):
        self.awards.application_withdrawn(data)

    @consumes(contracts.APPLICATION_REVIEWED)
    def on_application_reviewed(self, data):
        self.awards.application_reviewed(data)

    @timer(interval=READY_CHECK_SECONDS)
    def check_deliberation_ready(self):
        return self.awards.check_deliberation_ready()

    @timer(interval=RELEASE_RECOVERY_SECONDS)
    def finish_interrupted_releases(self):
        return self.awards.finish_interrupted_releases()

    # rpc

    @rpc
    def deliberation(self, year):
        return self.awards.deliberation(int(year))

    @rpc
    def decisions(self, year):
        return self.awards.decisions(int(year))

    @rpc
    def decide(self, application_id, data, by):
        return self.awards.decide(str(application_id), load(DecisionSchema(), data), by)

    @rpc
    def release_preview(self, year):
        return self.awards.release_preview(int(year))

    @rpc
    def release(self, year, by, data=None):
        options = load(ReleaseSchema(), data or {})
        return self.awards.release(int(year), by, force=options["force"])

    @rpc
    def palmares(self, year, role=None):
        return self.awards.palmares(int(year), role)

    @rpc
    def palmares_rows(self, year, role=None):
        """The palmarès as CSV rows (header first), embargo as for `palmares`."""
        return logic.csv_rows(self.awards.palmares(int(year), role))

    @rpc
    def release_record(self, year):
        """Who released the campaign and when (organisers), or None before the release."""
        record = self.awards.repo.release(int(year))
        return logic.release_view(record) if record else None

    @rpc
    def released_campaigns(self):
        return self.awards.released_campaigns()

    @rpc
    def application_result(self, application_id, role, subject):
        return self.awards.application_result(str(application_id), role, subject)
