"""Operations routes (organiser): the dead-letter queue, to inspect and replay
messages that a service could not handle (DESIGN.md: never dropped silently)."""

from nameko.constants import AMQP_URI_CONFIG_KEY

from services.common import deadletters
from services.gateway.http import api


def _limit(request):
    try:
        return max(1, min(int(request.args.get("limit", 100)), 1000))
    except ValueError:
        return 100


class OperationsRoutes:
    @api("GET", "/api/v1/dead-letters", roles=("organiser",))
    def list_dead_letters(self, request, principal):
        return deadletters.peek(self.config[AMQP_URI_CONFIG_KEY], _limit(request))

    @api("POST", "/api/v1/dead-letters/replay", roles=("organiser",))
    def replay_dead_letters(self, request, principal):
        outcome = deadletters.replay(self.config[AMQP_URI_CONFIG_KEY], _limit(request))
        self.record_replay(principal.subject, len(outcome.replayed))
        # a letter the broker could not route stays in the queue, with why
        return 202, {"replayed": len(outcome.replayed), "kept": [k["reason"] for k in outcome.kept]}
