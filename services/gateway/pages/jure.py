"""The juror's space (/jure); a mixin of GatewayService.

The queue (tasks left, what the juror holds and until when), "Prendre le
dossier suivant", the dossier of a held task with its review form, giving a
task back, declaring a conflict of interest, and the finished reviews. The
jury service decides (claims, leases, who may read a dossier).
"""

from services.common.errors import NotFound, ValidationFailed
from services.common.french import sort_key
from services.common.paging import MAX_LIMIT
from services.gateway.forms import form_errors, review_from_form
from services.gateway.web import page, redirect, render

JUROR = ("juror",)
LISTED = MAX_LIMIT  # tasks a juror's page counts or lists

# What each level means, shown beside the proposed arobases.
AROBASES_MEANINGS = {
    1: "Premiers pas : quelques services numériques de base pour les habitants.",
    2: "Une démarche engagée : des services utiles sur plusieurs enjeux.",
    3: "Une politique numérique structurée, qui touche la plupart des enjeux.",
    4: "Une politique numérique avancée, construite avec les habitants et les acteurs locaux.",
    5: "Une politique numérique exemplaire, qui fait école auprès des autres collectivités.",
}
SCORE_LABELS = {
    0: "0 – absent",
    1: "1 – naissant",
    2: "2 – en place",
    3: "3 – développé",
    4: "4 – exemplaire",
}


def dossier_sections(grid, application):
    """The grid's enjeux with the services the collectivité ticked (labels) and its initiatives."""
    ticked = set(application["services"])
    sections = []
    for enjeu in grid["enjeux"]:
        sections.append(
            {
                "code": enjeu["code"],
                "label": enjeu["label"],
                "services": [service["label"] for service in enjeu["services"] if service["code"] in ticked],
                "service_total": len(enjeu["services"]),
                "initiatives": [i for i in application["initiatives"] if i["enjeu"] == enjeu["code"]],
            }
        )
    return sections


class JurorPages:
    @page("GET", "/jure", roles=JUROR)
    def juror_home(self, request, visitor):
        juror_id = visitor.principal.subject
        juror = self.jury.get_juror(juror_id)
        held = self.jury.list_tasks(juror_id, {"state": "claimed"})
        done = self.jury.list_tasks(juror_id, {"state": "done"})
        # Each list holds one page and one more task, which says that more
        # follow: a national campaign offers a juror some 70,000 tasks.
        open_tasks = self.jury.list_tasks(juror_id, {"state": "open"})
        open_by_year: dict[int, int] = {}
        for task in open_tasks[:LISTED]:
            open_by_year[task["campaign_year"]] = open_by_year.get(task["campaign_year"], 0) + 1
        cut = open_tasks[LISTED - 1]["campaign_year"] if len(open_tasks) > LISTED else None
        return render(
            "jure_tableau.html",
            visitor,
            juror=juror,
            held=held[:LISTED],
            done=sorted(
                done[:LISTED], key=lambda t: (-t["campaign_year"], sort_key(t["collectivite"]["name"]))
            ),
            done_more=len(done) > LISTED,
            # (year, tasks counted, whether more follow)
            open_by_year=[
                (year, count, year == cut) for year, count in sorted(open_by_year.items(), reverse=True)
            ],
        )

    @page("POST", "/jure/prendre", roles=JUROR)
    def claim_next(self, request, visitor):
        year = request.form.get("campaign_year", "")
        try:
            task = self.jury.claim(visitor.principal.subject, {"campaign_year": int(year)})
        except (ValueError, ValidationFailed):
            return redirect("/jure")
        except NotFound:
            return redirect("/jure", "no_task")
        return redirect(f"/jure/dossier/{task['id']}")

    def _dossier_page(self, visitor, task_id, status=200, form=None, errors=None):
        dossier = self.jury.task_dossier(visitor.principal.subject, task_id)
        application = dossier["application"]
        campaign = self.submissions.get_campaign(application["campaign_year"])
        return render(
            "jure_dossier.html",
            visitor,
            status=status,
            task=dossier["task"],
            application=application,
            campaign=campaign,
            sections=dossier_sections(campaign["grid"], application),
            meanings=AROBASES_MEANINGS,
            score_labels=SCORE_LABELS,
            form=form or {},
            errors=errors or {},
        )

    @page("GET", "/jure/dossier/<task_id>", roles=JUROR)
    def dossier_page(self, request, visitor, task_id):
        return self._dossier_page(visitor, task_id)

    @page("POST", "/jure/dossier/<task_id>/avis", roles=JUROR)
    def review(self, request, visitor, task_id):
        dossier = self.jury.task_dossier(visitor.principal.subject, task_id)
        application = dossier["application"]
        data, errors = review_from_form(request.form, application["enjeux"], application["mentions"])
        if not errors:
            try:
                self.jury.submit_review(visitor.principal.subject, task_id, data)
            except ValidationFailed as exc:
                errors = form_errors(exc.fields)
        if errors:
            return self._dossier_page(visitor, task_id, status=422, form=request.form, errors=errors)
        return redirect("/jure", "review_saved")

    @page("POST", "/jure/dossier/<task_id>/rendre", roles=JUROR)
    def give_back(self, request, visitor, task_id):
        self.jury.release(visitor.principal.subject, task_id)
        return redirect("/jure", "task_released")

    @page("GET", "/jure/dossier/<task_id>/conflit", roles=JUROR)
    def conflict_page(self, request, visitor, task_id):
        dossier = self.jury.task_dossier(visitor.principal.subject, task_id)
        return render("jure_conflit.html", visitor, task=dossier["task"])

    @page("POST", "/jure/dossier/<task_id>/conflit", roles=JUROR)
    def declare_conflict(self, request, visitor, task_id):
        self.jury.declare_conflict(visitor.principal.subject, task_id)
        return redirect("/jure", "conflict_declared")
