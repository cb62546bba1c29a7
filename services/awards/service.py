"""AwardsService: decisions, embargo, release and palmarès (API.md "Deliberation and ceremony")."""

from nameko.rpc import rpc
from nameko.timer import timer

from services.awards import logic, palmares
from services.awards.repository import AwardsRepository, ensure_indexes
from services.awards.schemas import (
    ApplicationIds,
    DecisionSchema,
    ModerationSchema,
    PalmaresChunk,
    PastPalmares,
    ReleaseSchema,
)
from services.common import contracts, tallies
from services.common.clock import utcnow
from services.common.health import HealthRpc
from services.common.inbox import Inbox, consumes, consumes_batch
from services.common.mongo import MongoDatabase
from services.common.reference import campaign_year
from services.common.relay import Outbox
from services.common.startup import StartupChecks
from services.common.validation import load

READY_CHECK_SECONDS = 2
# How soon an organiser's release request is drafted and decided.
RELEASE_DECISION_SECONDS = 1
# How often a release interrupted by a crash is looked for and finished.
RELEASE_RECOVERY_SECONDS = 10


def chunk_index(value):
    return load(PalmaresChunk(), {"index": value})["index"]


class AwardsService(HealthRpc):
    name = contracts.AWARDS

    # No settings of its own: nothing of awards is configured (timers are constants).
    db = MongoDatabase(contracts.AWARDS, ensure_indexes=ensure_indexes)
    outbox = Outbox(contracts.AWARDS)
    inbox = Inbox(contracts.AWARDS)
    startup = StartupChecks()  # no default or short secret outside local mode

    def _use_cases(self):
        return logic.Awards(AwardsRepository(self.db), self.outbox, utcnow())

    # events

    @consumes(contracts.CAMPAIGN_OPENED)
    def on_campaign_opened(self, data):
        self._use_cases().campaign_opened(data)

    @consumes_batch(contracts.APPLICATION_SUBMITTED)
    def on_application_submitted(self, batch):
        self._use_cases().applications_submitted(batch)

    @consumes(contracts.APPLICATION_WITHDRAWN)
    def on_application_withdrawn(self, data):
        self._use_cases().application_withdrawn(data)

    @consumes(contracts.APPLICATION_REVIEWED)
    def on_application_reviewed(self, data):
        self._use_cases().application_reviewed(data)

    @timer(interval=READY_CHECK_SECONDS)
    def check_deliberation_ready(self):
        return self._use_cases().check_deliberation_ready()

    @timer(interval=RELEASE_DECISION_SECONDS)
    def decide_requested_releases(self):
        return self._use_cases().decide_requested_releases()

    @timer(interval=RELEASE_RECOVERY_SECONDS)
    def finish_interrupted_releases(self):
        return self._use_cases().finish_interrupted_releases()

    @timer(interval=logic.DRAFT_EXPORT_SECONDS)
    def sweep_draft_exports(self):
        self._use_cases().sweep_draft_exports()

    @timer(interval=tallies.REFRESH_SECONDS)
    def refresh_tallies(self):
        return self._use_cases().refresh_tallies()

    # rpc

    @rpc
    def deliberation(self, year):
        return self._use_cases().deliberation(campaign_year(year))

    @rpc
    def decisions_of(self, application_ids, shelves=None):
        page = load(ApplicationIds(), {"application_ids": application_ids, "shelves": shelves})
        return self._use_cases().decisions_of(page["application_ids"], page["shelves"])

    @rpc
    def decide(self, application_id, data, by):
        return self._use_cases().decide(str(application_id), load(DecisionSchema(), data), by)

    @rpc
    def comments(self, application_id):
        return self._use_cases().comments(str(application_id))

    @rpc
    def moderate_comment(self, application_id, review_id, data, by):
        return self._use_cases().moderate_comment(
            str(application_id), str(review_id), load(ModerationSchema(), data), by
        )

    @rpc
    def release_preview_tally(self, year):
        return self._use_cases().release_preview_tally(campaign_year(year))

    @rpc
    def release(self, year, by, data=None):
        options = load(ReleaseSchema(), data or {})
        return self._use_cases().release(
            campaign_year(year), by, force=options["force"], reason=options["reason"]
        )

    @rpc
    def palmares(self, year, role=None, region=None, lines=True):
        return self._use_cases().palmares(campaign_year(year), role, region, lines)

    @rpc
    def palmares_chunk(self, year, index, role=None):
        """One chunk of a released palmarès' lines (logic.Awards.palmares_chunk)."""
        return self._use_cases().palmares_chunk(campaign_year(year), role, chunk_index(index))

    @rpc
    def palmares_rows(self, year, role, chunk):
        """A released palmarès' chunk as CSV rows, embargo as for `palmares`
        (the header with chunk 0's): the chunks' rows, one after the other, are
        the whole palmarès'. A draft's: `draft_rows`."""
        year = campaign_year(year)
        index = chunk_index(chunk)
        return palmares.chunk_csv_rows(year, index, self._use_cases().palmares_chunk(year, role, index))

    @rpc
    def draft_export(self, year, role=None):
        """An organiser's draft written out for one export (logic.Awards.draft_export)."""
        return self._use_cases().draft_export(campaign_year(year), role)

    @rpc
    def draft_chunk(self, export, index):
        return self._use_cases().draft_chunk(str(export), chunk_index(index))

    @rpc
    def draft_rows(self, year, export, index):
        """A draft export's chunk as CSV rows, as `palmares_rows` with a chunk."""
        index = chunk_index(index)
        return palmares.chunk_csv_rows(
            campaign_year(year), index, self._use_cases().draft_chunk(str(export), index)
        )

    @rpc
    def import_history(self, data):
        return self._use_cases().import_history(load(PastPalmares(), data)["rows"])

    @rpc
    def release_state(self, year):
        """Where the release stands: requested, refused, releasing, released (release.py)."""
        return self._use_cases().release_state(campaign_year(year))

    @rpc
    def released_campaigns(self):
        return self._use_cases().released_campaigns()

    @rpc
    def application_result(self, application_id, role, subject):
        return self._use_cases().application_result(str(application_id), role, subject)
