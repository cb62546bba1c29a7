"""API routes of this area (see ../../shared/API.md); a mixin of GatewayService.

Jurors (organiser registers them) and review tasks (juror)."""

from services.gateway.http import api, read_json
from services.gateway.paging import id_page_args, id_page_response, paged


class JuryRoutes:
    @api("POST", "/api/v1/jurors", roles=("organiser",))
    def register_juror(self, request, principal):
        data = read_json(request)
        self.rate_limit(request, data.get("email"), trusted=True)
        return 201, self.jury.register_juror(data)

    @api("GET", "/api/v1/jurors", roles=("organiser",))
    def list_jurors(self, request, principal):
        return paged(request, self.jury.list_jurors(), lambda j: [j["name"].lower(), j["id"]])

    @api("GET", "/api/v1/jurors/me", roles=("juror",))
    def juror_me(self, request, principal):
        return self.jury.get_juror(principal.subject)

    @api("GET", "/api/v1/review-tasks", roles=("juror",))
    def list_review_tasks(self, request, principal):
        limit, after = id_page_args(request)
        query = {key: request.args[key] for key in ("state", "campaign_year") if key in request.args}
        query.update(after=after, limit=limit + 1)
        return id_page_response(self.jury.list_tasks(principal.subject, query), limit)

    @api("POST", "/api/v1/review-tasks/claim", roles=("juror",))
    def claim_review_task(self, request, principal):
        return self.jury.claim(principal.subject, read_json(request))

    @api("POST", "/api/v1/review-tasks/<task_id>/review", roles=("juror",))
    def review_task(self, request, principal, task_id):
        return self.jury.submit_review(principal.subject, task_id, read_json(request))

    @api("GET", "/api/v1/review-tasks/<task_id>/application", roles=("juror",))
    def review_task_application(self, request, principal, task_id):
        return self.jury.task_dossier(principal.subject, task_id)

    @api("POST", "/api/v1/review-tasks/<task_id>/conflict", roles=("juror",))
    def declare_review_task_conflict(self, request, principal, task_id):
        return self.jury.declare_conflict(principal.subject, task_id)

    @api("POST", "/api/v1/review-tasks/<task_id>/release", roles=("juror",))
    def release_review_task(self, request, principal, task_id):
        return self.jury.release(principal.subject, task_id)
