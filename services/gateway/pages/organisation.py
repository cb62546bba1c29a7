"""The organisers' console (/organisation); a mixin of GatewayService.

Campaigns (created from last year's, progress at a glance), jurors and
organisers (invite, load, conflicts, end sessions, revoke), applications
(filters, pages, each read as its jurors read it), deliberation (paged, the
disagreements on their own) and decisions, the release (preview, confirmation
naming the campaign, progress), the outbox and the dead letters. Every action
is the API's, made under the organiser's own name.
"""

from urllib.parse import urlencode

from nameko.constants import AMQP_URI_CONFIG_KEY

from services.common import deadletters
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.french import APPLICATION_STATE_LABELS
from services.common.reference import is_email
from services.gateway import console
from services.gateway.forms import form_errors
from services.gateway.pages.collectivite import REGIONS
from services.gateway.pages.jure import dossier_sections
from services.gateway.releasing import DECIDED, request_release
from services.gateway.repository import Replays
from services.gateway.web import page, redirect, render

ORGANISER = ("organiser",)
MAIL_STATES = {"queued": "en attente", "sent": "envoyé", "failed": "en échec"}
DELIBERATION_ROWS = 50  # a page of the deliberation


def counted(*tallies):
    """When the oldest of a page's tallies was counted (None while none has
    its first count), and whether a newer count is on its way
    (services/common/tallies.py)."""
    return {
        "at": min((tally["counted_at"] for tally in tallies if tally["counts"] is not None), default=None),
        "recounting": any(tally["recounting"] for tally in tallies),
    }


def _text(form, name):
    return (form.get(name) or "").strip()


class OrganiserPages:
    def _by(self, visitor):
        return visitor.principal.subject

    # -- home, campaigns ---------------------------------------------------------

    @page("GET", "/organisation", roles=ORGANISER)
    def organiser_home(self, request, visitor):
        campaigns = self.submissions.list_campaigns()
        return render("organisation.html", visitor, campaigns=campaigns)

    @page("GET", "/organisation/campagnes/<int:year>", roles=ORGANISER)
    def campaign_progress_page(self, request, visitor, year):
        campaign = self.submissions.get_campaign(year)
        applications = self.submissions.application_counts(year)
        reviews = self.jury.campaign_progress(year)
        mail = self.notifications.campaign_mail(year)
        return render(
            "orga_campagne.html",
            visitor,
            campaign=campaign,
            applications=applications["counts"],
            reviews=reviews["counts"],
            mail=mail["counts"],
            counted=counted(applications, reviews, mail),
            state_labels=APPLICATION_STATE_LABELS,
            mail_states=MAIL_STATES,
        )

    def _campaign_form(self, visitor, form, errors, status=200, preview=None):
        return render(
            "orga_campagne_nouvelle.html", visitor, status=status, form=form, errors=errors, preview=preview
        )

    @page("GET", "/organisation/campagnes/nouvelle", roles=ORGANISER)
    def new_campaign_page(self, request, visitor):
        campaigns = self.submissions.list_campaigns()
        previous = campaigns[0] if campaigns else None
        form = {
            "year": str(previous["year"] + 1) if previous else "",
            "title": f"Label Territoires, Villes et Villages Internet {previous['year'] + 1}"
            if previous
            else "",
            "ceremony_place": previous["ceremony_place"] if previous else "",
            "reviews_per_application": str(previous["reviews_per_application"]) if previous else "2",
            "village_max_population": str(previous["village_max_population"]) if previous else "3500",
            "mentions": console.mentions_text(previous["mentions"]) if previous else "",
            "grid": "",
            "previous": str(previous["year"]) if previous else "",
        }
        return self._campaign_form(visitor, form, {})

    @page("POST", "/organisation/campagnes/nouvelle", roles=ORGANISER)
    def new_campaign(self, request, visitor):
        form = {key: _text(request.form, key) for key in request.form if key != "csrf_token"}
        errors: dict[str, list[str]] = {}
        body: dict = {"title": form.get("title", ""), "ceremony_place": form.get("ceremony_place", "")}
        for key in ("year", "reviews_per_application", "village_max_population"):
            if not form.get(key, "").isdigit():
                errors[f"f-{key}"] = ["Un nombre entier est attendu."]
            else:
                body[key] = int(form[key])
        for key in ("submissions_open_at", "submissions_close_at", "ceremony_at"):
            moment = console.from_paris_input(form.get(key, ""))
            if moment is None:
                errors[f"f-{key}"] = ["Date et heure attendues (heure de Paris)."]
            else:
                body[key] = moment
        mentions, mention_errors = console.mentions_from_text(form.get("mentions", ""))
        grid, grid_errors = console.grid_from_text(form.get("grid", ""))
        if mention_errors:
            errors["f-mentions"] = mention_errors
        if grid_errors:
            errors["f-grid"] = grid_errors
        previous = None
        if form.get("previous", "").isdigit():
            previous = self.submissions.get_campaign(int(form["previous"]))
        body["mentions"] = mentions or None
        body["grid"] = grid or (previous["grid"] if previous else None)
        if errors:
            return self._campaign_form(visitor, form, errors, status=422)
        if request.form.get("action") != "creer":
            preview = {
                "previous": previous,
                "grid": console.grid_changes(previous["grid"], body["grid"])
                if previous and body["grid"]
                else None,
                "mentions": console.mention_changes(previous["mentions"] if previous else [], mentions),
                "body": body,
            }
            return self._campaign_form(visitor, form, {}, preview=preview)
        try:
            created = self.submissions.create_campaign(body)
        except ValidationFailed as exc:
            return self._campaign_form(visitor, form, form_errors(exc.fields), status=422)
        except Conflict as exc:
            return self._campaign_form(visitor, form, {"f-year": [exc.message]}, status=409)
        return redirect(f"/organisation/campagnes/{created['year']}", "campaign_created")

    # -- people ------------------------------------------------------------------

    @page("GET", "/organisation/jures", roles=ORGANISER)
    def jurors_page(self, request, visitor):
        return self._jurors(visitor, {}, {})

    def _jurors(self, visitor, form, errors, status=200):
        revoked = self.team().revoked("juror")
        found = self.jury.jurors_page()
        jurors = [dict(j, revoked=j["id"] in revoked) for j in found["jurors"]]
        return render(
            "orga_jures.html",
            visitor,
            status=status,
            jurors=jurors,
            counted=counted(*found["tallies"]) if found["tallies"] else None,
            form=form,
            errors=errors,
        )

    @page("POST", "/organisation/jures", roles=ORGANISER)
    def invite_juror(self, request, visitor):
        form = {key: _text(request.form, key) for key in ("name", "email", "department", "conflicts")}
        data = {
            "name": form["name"],
            "email": form["email"],
            "department": form["department"].upper(),
            "conflicts": [code.upper() for code in form["conflicts"].replace(",", " ").split()],
        }
        self.rate_limit(request, data["email"], trusted=True)
        try:
            self.jury.register_juror(data)
        except ValidationFailed as exc:
            return self._jurors(
                visitor, form, form_errors(exc.fields, {"conflicts": "conflicts"}), status=422
            )
        except Conflict as exc:
            return self._jurors(visitor, form, {"f-email": [exc.message]}, status=409)
        return redirect("/organisation/jures", "juror_invited")

    @page("GET", "/organisation/organisateurs", roles=ORGANISER)
    def organisers_page(self, request, visitor):
        return self._organisers(visitor, {}, {})

    def _organisers(self, visitor, form, errors, status=200):
        return render(
            "orga_organisateurs.html",
            visitor,
            status=status,
            organisers=self.team().members(),
            form=form,
            errors=errors,
        )

    @page("POST", "/organisation/organisateurs", roles=ORGANISER)
    def invite_organiser_page(self, request, visitor):
        form = {key: _text(request.form, key) for key in ("name", "email")}
        if not is_email(form["email"]):
            return self._organisers(
                visitor, form, {"f-email": ["Adresse électronique invalide."]}, status=422
            )
        try:
            self.invite_organiser(request, form, self._by(visitor))
        except ValidationFailed as exc:
            return self._organisers(visitor, form, form_errors(exc.fields), status=422)
        except Conflict as exc:
            return self._organisers(visitor, form, {"f-email": [exc.message]}, status=409)
        return redirect("/organisation/organisateurs", "organiser_invited")

    @page("POST", "/organisation/comptes/sessions", roles=ORGANISER)
    def end_sessions_page(self, request, visitor):
        role, subject = _text(request.form, "role"), _text(request.form, "subject")
        self.team().end_sessions(role, subject)
        return redirect(_text(request.form, "back") or "/organisation", "sessions_ended")

    @page("POST", "/organisation/comptes/revocation", roles=ORGANISER)
    def revoke_page(self, request, visitor):
        role, subject = _text(request.form, "role"), _text(request.form, "subject")
        if role not in ("juror", "collectivite", "organiser") or not subject:
            raise NotFound("Compte inconnu.", "account_not_found")
        if role == "organiser" and subject == self._by(visitor):
            raise Conflict("Vous ne pouvez pas révoquer votre propre compte.", "own_account")
        self.team().revoke(role, subject, self._by(visitor))
        return redirect(_text(request.form, "back") or "/organisation", "account_revoked")

    # -- personal API tokens -------------------------------------------------------

    def _tokens_page(self, visitor, form, errors, status=200, new_token=None):
        tokens = self.team().tokens_of(self._by(visitor))
        return render(
            "orga_jetons.html",
            visitor,
            status=status,
            tokens=tokens,
            form=form,
            errors=errors,
            new_token=new_token,
        )

    @page("GET", "/organisation/jetons", roles=ORGANISER)
    def tokens_page(self, request, visitor):
        return self._tokens_page(visitor, {"days": "90"}, {})

    @page("POST", "/organisation/jetons", roles=ORGANISER)
    def create_token(self, request, visitor):
        form = {key: _text(request.form, key) for key in ("label", "days")}
        errors = {}
        if not form["label"] or len(form["label"]) > 100:
            errors["f-label"] = [
                "Donnez un nom à ce jeton (100 caractères au plus), par exemple « labelctl »."
            ]
        if not form["days"].isdigit() or not 1 <= int(form["days"]) <= 365:
            errors["f-days"] = ["Une durée de 1 à 365 jours."]
        if errors:
            return self._tokens_page(visitor, form, errors, status=422)
        token, _ = self.team().issue_token(self._by(visitor), form["label"], int(form["days"]))
        # Shown once, in this response only (no redirect: it is never stored in clear).
        return self._tokens_page(visitor, {"days": "90"}, {}, new_token=token)

    @page("POST", "/organisation/jetons/<token_id>/revocation", roles=ORGANISER)
    def revoke_token_page(self, request, visitor, token_id):
        if not self.team().revoke_token(self._by(visitor), token_id):
            raise NotFound("Jeton inconnu.", "token_not_found")
        return redirect("/organisation/jetons", "token_revoked")

    # -- applications ----------------------------------------------------------------

    @page("GET", "/organisation/campagnes/<int:year>/candidatures", roles=ORGANISER)
    def applications_page(self, request, visitor, year):
        args = request.args
        filters = {
            "state": args.get("etat", ""),
            "region": args.get("region", ""),
            "category": args.get("categorie", ""),
            "department": args.get("departement", "").strip()[:3],
            "text": args.get("q", "").strip()[:100],
        }
        after, start = args.get("apres") or None, args.get("depuis") or None
        try:
            found = self.submissions.search_applications(year, filters, after, start)
        except ValidationFailed:
            found = self.submissions.search_applications(year, {})
        query = {k: v for k, v in args.items() if k not in ("apres", "depuis") and v}
        if found["next_after"]:
            query["apres"] = found["next_after"]
        elif found["next_department"]:
            query["depuis"] = found["next_department"]
        return render(
            "orga_candidatures.html",
            visitor,
            campaign=self.submissions.get_campaign(year),
            found=found,
            filters=filters,
            next_query=urlencode(query) if found["next_after"] or found["next_department"] else None,
            regions=REGIONS,
            state_labels=APPLICATION_STATE_LABELS,
        )

    def _application_page(self, visitor, application_id, status=200, errors=None, form=None):
        application = self.submissions.get_application(application_id, "organiser", self._by(visitor))
        campaign = self.submissions.get_campaign(application["campaign_year"])
        row = self.jury.deliberation_row(application_id)
        row = self.with_decisions({"rows": [row]})[0] if row else None
        team = self.team()
        comments = self.awards.comments(application_id) if row else []
        return render(
            "orga_candidature.html",
            visitor,
            status=status,
            application=application,
            campaign=campaign,
            sections=dossier_sections(campaign["grid"], application),
            row=row,
            decided_by=team.name_of(row["decision"]["decided_by"]) if row and row.get("decision") else None,
            errors=errors or {},
            form=form or {},
            state_labels=APPLICATION_STATE_LABELS,
            comments=comments,
            released=campaign["state"] == "released",
        )

    @page("GET", "/organisation/candidatures/<application_id>", roles=ORGANISER)
    def application_detail_page(self, request, visitor, application_id):
        return self._application_page(visitor, application_id)

    @page("POST", "/organisation/candidatures/<application_id>/decision", roles=ORGANISER)
    def decide_page(self, request, visitor, application_id):
        form = request.form
        data: dict = {"mentions": form.getlist("mentions")}
        if _text(form, "arobases") in ("1", "2", "3", "4", "5"):
            data["arobases"] = int(_text(form, "arobases"))
        if _text(form, "reason"):
            data["reason"] = _text(form, "reason")
        try:
            self.awards.decide(application_id, data, self._by(visitor))
        except ValidationFailed as exc:
            return self._application_page(visitor, application_id, 422, form_errors(exc.fields), form)
        year = application_id.split(":", 1)[0]
        return redirect(f"/organisation/campagnes/{year}/deliberation", "decision_saved")

    @page("POST", "/organisation/candidatures/<application_id>/commentaires/<review_id>", roles=ORGANISER)
    def moderate_comment_page(self, request, visitor, application_id, review_id):
        form = request.form
        data = {"state": _text(form, "state"), "text": _text(form, "text") or None}
        try:
            self.awards.moderate_comment(application_id, review_id, data, self._by(visitor))
        except ValidationFailed as exc:
            numbers = {c["review_id"]: c["number"] for c in self.awards.comments(application_id)}
            errors = {f"f-comment-{numbers.get(review_id, 0)}": [m for ms in exc.fields.values() for m in ms]}
            return self._application_page(visitor, application_id, 422, errors)
        response = redirect(f"/organisation/candidatures/{application_id}", "comment_saved")
        response.headers["Location"] += "#commentaires"  # back where the organiser was
        return response

    # -- deliberation and release ---------------------------------------------------------

    @page("GET", "/organisation/campagnes/<int:year>/deliberation", roles=ORGANISER)
    def deliberation_page(self, request, visitor, year):
        """A page of rows by collectivité code, read from the jury's shelves; the
        disagreements on their own (`vue=desaccords`), as the jury meets on them first."""
        campaign = self.submissions.get_campaign(year)
        view = "desaccords" if request.args.get("vue") == "desaccords" else "toutes"
        after = request.args.get("apres") or None
        disagreements = view == "desaccords"
        try:
            page = self.jury.deliberation_page(year, after, DELIBERATION_ROWS, disagreements)
        except ValidationFailed:  # a hand-edited `apres`: the list from its start
            after, page = None, self.jury.deliberation_page(year, None, DELIBERATION_ROWS, disagreements)
        return render(
            "orga_deliberation.html",
            visitor,
            campaign=campaign,
            rows=self.with_decisions(page),
            view=view,
            after=after,
            next=page["next"],
            per_page=DELIBERATION_ROWS,
        )

    @page("GET", "/organisation/campagnes/<int:year>/publication", roles=ORGANISER)
    def release_page(self, request, visitor, year):
        return self._release_page(visitor, year, {})

    def _release_page(self, visitor, year, errors, status=200):
        campaign = self.submissions.get_campaign(year)
        # The awards service knows of the release at once (submissions learns it by event).
        release = self.awards.release_state(year)
        released = release["state"] in DECIDED
        if released:
            tally = self.notifications.campaign_mail(year, "result")
        else:
            tally = self.awards.release_preview_tally(year)
        if release["state"] == "refused" and not errors:
            errors = {"f-confirm": [release["refusal"]["message"]]}
        by = release.get("released_by") or release.get("requested_by")
        return render(
            "orga_publication.html",
            visitor,
            status=status,
            campaign=campaign,
            release=release,
            released=released,
            preview=None if released else tally["counts"],
            mail=tally["counts"] if released else None,
            counted=counted(tally),
            by=self.team().name_of(by) if by else None,
            errors=errors,
        )

    @page("POST", "/organisation/campagnes/<int:year>/publication", roles=ORGANISER)
    def release(self, request, visitor, year):
        if request.form.get("confirm") != str(year):
            errors = {"f-confirm": [f"Cochez la case qui confirme la publication du palmarès {year}."]}
            return self._release_page(visitor, year, errors, status=422)
        reason = _text(request.form, "reason")
        options = {"force": request.form.get("force") == "1" or bool(reason), "reason": reason or None}
        try:
            state = request_release(self.awards, year, self._by(visitor), options)
        except Conflict as refused:  # e.g. submissions still open and no reason given
            field = "f-reason" if refused.code == "submissions_open" else "f-confirm"
            return self._release_page(visitor, year, {field: [refused.message]}, status=409)
        notice = "released" if state["state"] == "released" else "release_requested"
        return redirect(f"/organisation/campagnes/{year}/publication", notice)

    # -- outbox and dead letters -----------------------------------------------------------

    # Each list is an equality read: the newest emails of all would be a sort of
    # every email ever stored (9 s at 3,500 collectivités).
    @page("GET", "/organisation/courriels", roles=ORGANISER)
    def outbox_page(self, request, visitor):
        address = _text(request.args, "adresse")
        found, errors = None, {}
        if address:
            try:
                found = self.notifications.list_outbox(None, 100, None, address)
            except ValidationFailed as exc:
                errors = form_errors(exc.fields, {"recipient": "adresse"})
        return render(
            "orga_courriels.html",
            visitor,
            status=422 if errors else 200,
            failed=self.notifications.list_outbox("failed", 200),
            waiting=self.notifications.outbox_queue(100),
            address=address,
            found=found,
            errors=errors,
            mail_states=MAIL_STATES,
        )

    @page("GET", "/organisation/courriels/<email_id>", roles=ORGANISER)
    def email_page(self, request, visitor, email_id):
        email = self.notifications.get_email(email_id)
        return render("orga_courriel.html", visitor, email=email, mail_states=MAIL_STATES)

    @page("POST", "/organisation/courriels/<email_id>/renvoi", roles=ORGANISER)
    def resend_page(self, request, visitor, email_id):
        self.rate_limit(request, f"outbox:{email_id}", trusted=True)
        self.notifications.resend(email_id, self._by(visitor))
        return redirect(f"/organisation/courriels/{email_id}", "email_resent")

    @page("GET", "/organisation/lettres-mortes", roles=ORGANISER)
    def dead_letters_page(self, request, visitor):
        letters = deadletters.peek(self.config[AMQP_URI_CONFIG_KEY], 50)
        replays = Replays(self.db).recent()
        return render("orga_lettres_mortes.html", visitor, letters=letters, replays=replays)

    @page("POST", "/organisation/lettres-mortes", roles=ORGANISER)
    def replay_page(self, request, visitor):
        outcome = deadletters.replay(self.config[AMQP_URI_CONFIG_KEY], 100)
        self.record_replay(self._by(visitor), len(outcome.replayed))
        if outcome.kept:  # the organiser must see which letters stayed, and why
            letters = deadletters.peek(self.config[AMQP_URI_CONFIG_KEY], 50)
            replays = Replays(self.db).recent()
            return render(
                "orga_lettres_mortes.html",
                visitor,
                status=409,
                letters=letters,
                replays=replays,
                kept=outcome.kept,
            )
        return redirect("/organisation/lettres-mortes", "replayed")
