"""The collectivité's space (/collectivite); a mixin of GatewayService.

Sign-up, the application form (the campaign's grid as enjeux with labelled
services, initiatives per enjeu), draft, submission, withdrawal, the status
timeline and, after the release, the result. The submissions and awards
services decide everything; these handlers translate forms and errors.
"""

from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.french import CATEGORY_PLURALS, sort_key
from services.common.reference import REGION_NAMES
from services.gateway import charts
from services.gateway.accounts import Account
from services.gateway.forms import application_from_form, collectivite_from_form, form_errors
from services.gateway.web import page, redirect, render

COLLECTIVITE = ("collectivite",)
RECENT_CAMPAIGNS = 5  # closed campaigns shown on its home (those it applied to), newest first
# The regions' official names, in French alphabetical order (the sign-up's select).
REGIONS = tuple(sorted(REGION_NAMES, key=sort_key))
# Error keys of the sign-up shown by another input (see forms.form_errors).
SIGN_UP_INPUTS = {"siren": "insee_code", "member_communes": "member_communes", "_schema": "insee_code"}
STEPS = (
    ("draft", "Brouillon"),
    ("submitted", "Déposée"),
    ("reviewing", "En cours d'examen"),
    ("result", "Résultat"),
)


def timeline(application, campaign):
    """The steps of the status timeline, each done / current / to come."""
    if application is None:
        reached = -1
    elif application["state"] == "draft":
        reached = 0
    elif application["state"] == "withdrawn":
        return None
    elif campaign["state"] == "released":
        reached = 3
    elif campaign["state"] == "closed":
        reached = 2
    else:
        reached = 1
    return [
        {
            "key": key,
            "label": label,
            "status": "done" if i < reached else "current" if i == reached else "todo",
        }
        for i, (key, label) in enumerate(STEPS)
    ]


class CollectivitePages:
    def _own_application(self, visitor, year):
        principal = visitor.principal
        found = self.submissions.list_applications(year, principal.role, principal.subject, None)
        return found[0] if found else None

    # -- home and sign-up ---------------------------------------------------------

    @page("GET", "/collectivite")
    def collectivite_home(self, request, visitor):
        if visitor.role != "collectivite":
            return render("collectivite_accueil.html", visitor)
        principal = visitor.principal
        collectivite = self.submissions.get_collectivite(principal.subject, principal.role, principal.subject)
        campaigns = [
            dict(row, steps=timeline(row["application"], row["campaign"]))
            for row in self.submissions.campaigns_of_collectivite(principal.subject, RECENT_CAMPAIGNS)
        ]
        return render("collectivite_tableau.html", visitor, collectivite=collectivite, campaigns=campaigns)

    @page("GET", "/collectivite/inscription")
    def collectivite_sign_up_page(self, request, visitor):
        return render("collectivite_inscription.html", visitor, data={}, errors={}, regions=REGIONS)

    @page("POST", "/collectivite/inscription")
    def collectivite_sign_up(self, request, visitor):
        data, errors = collectivite_from_form(request.form)
        if not errors:
            self.rate_limit(request, data["email"])
            try:
                created = self.signed_up(self.submissions.register_collectivite(data))
            except ValidationFailed as exc:
                errors = form_errors(exc.fields, SIGN_UP_INPUTS)
            except Conflict as exc:
                errors = {"f-insee_code": [exc.message]}
        if errors:
            return render(
                "collectivite_inscription.html",
                visitor,
                status=422,
                data=data,
                errors=errors,
                regions=REGIONS,
            )
        # The address is confirmed by following the link: only then does a session open.
        account = Account("collectivite", created["id"], f"Espace de la collectivité (code {created['id']})")
        self.send_sign_in_links(data["email"], [account], purpose="confirm")
        return render(
            "collectivite_inscrite.html", visitor, category=created["category"], email=data["email"]
        )

    # -- the application form ------------------------------------------------------

    @page("GET", "/collectivite/candidature/<int:year>", roles=COLLECTIVITE)
    def application_page(self, request, visitor, year):
        campaign = self.submissions.get_campaign(year)
        application = self._own_application(visitor, year)
        if application is None and not campaign["accepting_submissions"]:
            raise NotFound(f"La campagne {year} n'accepte pas de candidature.", "not_accepting")
        draft = application or {"services": [], "initiatives": [], "state": "draft"}
        return render(
            "candidature.html", visitor, campaign=campaign, application=application, draft=draft, errors={}
        )

    @page("POST", "/collectivite/candidature/<int:year>", roles=COLLECTIVITE)
    def save_application(self, request, visitor, year):
        campaign = self.submissions.get_campaign(year)
        application = self._own_application(visitor, year)
        draft = application_from_form(request.form, campaign["grid"])
        principal = visitor.principal
        try:
            if application is None:
                self.submissions.create_application(principal.subject, dict(draft, campaign_year=year))
            else:
                self.submissions.update_application(
                    application["id"], principal.role, principal.subject, draft
                )
        except ValidationFailed as exc:
            return render(
                "candidature.html",
                visitor,
                status=422,
                campaign=campaign,
                application=application,
                draft=dict(draft, state="draft"),
                errors=form_errors(exc.fields),
            )
        if request.form.get("action") == "deposer":
            return redirect(f"/collectivite/candidature/{year}/depot")
        return redirect(f"/collectivite/candidature/{year}", "draft_saved")

    # -- submit, withdraw ------------------------------------------------------------

    def _application_or_404(self, visitor, year):
        application = self._own_application(visitor, year)
        if application is None:
            raise NotFound(f"Vous n'avez pas de candidature pour {year}.", "application_not_found")
        return application

    @page("GET", "/collectivite/candidature/<int:year>/depot", roles=COLLECTIVITE)
    def submit_page(self, request, visitor, year):
        campaign = self.submissions.get_campaign(year)
        application = self._application_or_404(visitor, year)
        return render("candidature_depot.html", visitor, campaign=campaign, application=application)

    @page("POST", "/collectivite/candidature/<int:year>/depot", roles=COLLECTIVITE)
    def submit(self, request, visitor, year):
        application = self._application_or_404(visitor, year)
        principal = visitor.principal
        self.submissions.submit_application(application["id"], principal.role, principal.subject)
        return redirect("/collectivite", "submitted")

    @page("GET", "/collectivite/candidature/<int:year>/retrait", roles=COLLECTIVITE)
    def withdraw_page(self, request, visitor, year):
        application = self._application_or_404(visitor, year)
        return render("candidature_retrait.html", visitor, year=year, application=application)

    @page("POST", "/collectivite/candidature/<int:year>/retrait", roles=COLLECTIVITE)
    def withdraw(self, request, visitor, year):
        application = self._application_or_404(visitor, year)
        principal = visitor.principal
        self.submissions.withdraw_application(application["id"], principal.role, principal.subject)
        return redirect("/collectivite", "withdrawn")

    # -- result --------------------------------------------------------------------------

    @page("GET", "/collectivite/resultat/<int:year>", roles=COLLECTIVITE)
    def result_page(self, request, visitor, year):
        campaign = self.submissions.get_campaign(year)
        application = self._application_or_404(visitor, year)
        principal = visitor.principal
        try:
            result = self.awards.application_result(application["id"], principal.role, principal.subject)
        except Conflict as exc:
            return render(
                "resultat.html", visitor, status=409, campaign=campaign, result=None, embargo=exc.message
            )
        feedback = result.get("feedback")
        chart = None
        if feedback and feedback["scores"]:
            chart = charts.paired_bars(
                [(s["label"], s["score"], s["category_average"]) for s in feedback["scores"]],
                "Vos notes par enjeu comparées à la moyenne de votre catégorie (sur 4)",
                "Votre collectivité",
                f"Moyenne des {CATEGORY_PLURALS.get(feedback['category'], feedback['category'])}",
                4,
            )
        return render(
            "resultat.html",
            visitor,
            campaign=campaign,
            result=result,
            embargo=None,
            feedback=feedback,
            chart=chart,
        )
