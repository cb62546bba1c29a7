"""Operations routes (organiser): the dead-letter queue, to inspect and replay
messages that a service could not handle (DESIGN.md: never dropped silently)."""

import functools

from nameko.constants import AMQP_URI_CONFIG_KEY

from services.common import deadletters
from services.gateway import openapi
from services.gateway.http import api, error_response
from services.gateway.paging import bad_cursor, page_args, page_response
from services.gateway.server import http

# A queue is read from its head: a page further on peeks the ones before it too.
MAX_DEAD_LETTERS_SKIPPED = 2000


def _limit(request):
    try:
        return max(1, min(int(request.args.get("limit", 100)), 1000))
    except ValueError:
        return 100


@functools.cache
def _spec():
    return openapi.build_spec()  # the routes are all declared once the service class is built


class OperationsRoutes:
    @api("GET", "/api/v1/openapi.json", public=True)
    def openapi_spec(self, request, principal):
        return _spec()

    # werkzeug's least specific rule: an API address no route matches (or whose
    # `<int:...>` part is not a number) gets the JSON error of API.md, not HTML.
    @http("GET,POST,PUT,PATCH,DELETE", "/api/<path:rest>")
    def api_not_found(self, request, rest):
        return error_response(404, "not_found", "Aucune ressource de l'API à cette adresse.")

    @api("GET", "/api/v1/dead-letters", roles=("organiser",))
    def list_dead_letters(self, request, principal):
        limit, after = page_args(request)
        skip = 0
        if after is not None:  # the cursor: [how many letters the pages before showed]
            skip = after[0]
            if len(after) != 1 or type(skip) is not int or not 0 < skip <= MAX_DEAD_LETTERS_SKIPPED:
                raise bad_cursor()
        letters = deadletters.peek(self.config[AMQP_URI_CONFIG_KEY], skip + limit + 1)[skip:]
        more = len(letters) > limit
        return page_response(letters[:limit], [skip + limit] if more else None)

    @api("POST", "/api/v1/dead-letters/replay", roles=("organiser",))
    def replay_dead_letters(self, request, principal):
        outcome = deadletters.replay(self.config[AMQP_URI_CONFIG_KEY], _limit(request))
        self.record_replay(principal.subject, len(outcome.replayed))
        # a letter the broker could not route stays in the queue, with why
        return 202, {"replayed": len(outcome.replayed), "kept": [k["reason"] for k in outcome.kept]}
