"""Deliberation and ceremony (API.md), the palmarès JSON/CSV and the public
palmarès pages; a mixin of GatewayService. The embargo itself is enforced by
the awards service (it is told the caller's role)."""

import io
import itertools
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.exceptions import MethodNotFound, UnknownService
from werkzeug.wrappers import Response

from services.common import csvsafe
from services.common.errors import Conflict, NotFound
from services.common.french import CATEGORY_LABELS, PROGRESSION_LABELS, french_date, slug, sort_key
from services.common.reference import REGIONS
from services.gateway import charts
from services.gateway.http import ApiError, api, body_response, json_text, read_json
from services.gateway.paging import bad_cursor, page_args, page_response, paged
from services.gateway.public_cache import Body
from services.gateway.releasing import DECIDED, first_count, public_palmares, request_release

ORGANISER = ("organiser",)
PREVIEW_RETRY_SECONDS = 10


def _public(principal):
    """The caller sees what every visitor sees (organisers also see drafts)."""
    return principal is None or principal.role not in ORGANISER


_pages = Environment(
    loader=FileSystemLoader(str(Path(__file__).resolve().parents[1] / "templates")),
    autoescape=select_autoescape(["html"]),
)
_pages.filters["french_date"] = lambda text: french_date(text, with_time=False)
_pages.filters["slug"] = slug
_pages.globals.update(progression_labels=PROGRESSION_LABELS, category_labels=CATEGORY_LABELS)


def html(template, status=200, **context):
    return Response(_pages.get_template(template).render(**context), status=status, mimetype="text/html")


def palmares_page_text(palmares):
    """A year's page: its figures, and its regions, each a page of its lines
    (a national palmarès is 35,000 lines: one page would weigh megabytes)."""
    return _pages.get_template("palmares_year.html").render(
        palmares=palmares,
        stats=palmares["stats"],
        charts=palmares_charts(palmares["stats"]),
        regions=sorted(palmares["stats"]["by_region"].items(), key=lambda item: sort_key(item[0])),
    )


def palmares_region_text(palmares, region):
    """A region's page: its lines in French alphabetical order."""

    def order(entry):
        return sort_key(entry["collectivite"]["name"]), entry["collectivite"]["insee_code"]

    entries = sorted(palmares["labelled"], key=order)
    page = _pages.get_template("palmares_region.html")
    return page.render(palmares=palmares, region=region, entries=entries)


def json_with_lines(head, chunks):
    """The palmarès' JSON: `head` with its lines, "labelled", from `chunks`
    (lists of lines), each encoded as it comes: no list of every line is made."""
    pieces = (json_text(chunk)[1:-1] for chunk in chunks if chunk)
    return f'{json_text(head)[:-1]}, "labelled": [{", ".join(pieces)}]}}'


def region_named(palmares, region_slug):
    """The region whose slug this is: one of the palmarès' or of France's
    (which may have none labelled); None if none."""
    names = itertools.chain(palmares["stats"]["by_region"], REGIONS.values())
    return next((name for name in names if slug(name) == region_slug), None)


def palmares_charts(stats):
    by_category = stats["by_category"]
    return {
        "arobases": charts.vertical_bars(
            [(f"{level} @", stats["by_arobases"][str(level)]) for level in range(1, 6)],
            "Collectivités labellisées par nombre d'arobases",
        ),
        "category": charts.horizontal_bars(
            [
                ("Villes", by_category["ville"]),
                ("Villages", by_category["village"]),
                ("Territoires", by_category["territoire"]),
            ],
            "Collectivités labellisées par catégorie",
        ),
        "region": charts.horizontal_bars(
            list(stats["by_region"].items()), "Collectivités labellisées par région"
        ),
        "progression": charts.horizontal_bars(
            [
                (PROGRESSION_LABELS[key], stats.get("progression", {}).get(key, 0))
                for key in PROGRESSION_LABELS
            ],
            "Évolution par rapport à la campagne précédente",
        ),
    }


class AwardsRoutes:
    # -- deliberation (organisers) -----------------------------------------

    @api("GET", "/api/v1/campaigns/<int:year>/deliberation", roles=ORGANISER)
    def get_deliberation(self, request, principal, year):
        """By application id; the jury reads one page of its shelves."""
        limit, after = page_args(request)
        if after is not None and (len(after) != 1 or not isinstance(after[0], str) or len(after[0]) > 200):
            raise bad_cursor()  # not one of this list's
        try:
            page = self.jury.deliberation_page(year, after[0] if after else None, limit)
        except (UnknownService, MethodNotFound):  # the jury service is away: the awards copy of its proposals
            return paged(request, self.awards.deliberation(year), lambda row: [row["application_id"]])
        next_key = [page["next"]] if page["next"] is not None else None
        return page_response(self.with_decisions(page), next_key)

    def with_decisions(self, page):
        """A deliberation page's rows with the organisers' decision on each, read
        by the shelves the jury read the rows from (by id from an older jury)."""
        rows = page["rows"]
        ids = [row["application_id"] for row in rows]
        decisions = self.awards.decisions_of(ids, page.get("shelves")) if rows else {}
        return [dict(row, decision=decisions.get(row["application_id"])) for row in rows]

    @api("PUT", "/api/v1/applications/<application_id>/decision", roles=ORGANISER)
    def put_decision(self, request, principal, application_id):
        return self.awards.decide(application_id, read_json(request), principal.subject)

    @api("GET", "/api/v1/applications/<application_id>/comments", roles=ORGANISER)
    def get_comments(self, request, principal, application_id):
        """The jurors' comments on an application, anonymised, with their moderation."""
        return self.awards.comments(application_id)

    @api("PUT", "/api/v1/applications/<application_id>/comments/<review_id>", roles=ORGANISER)
    def put_comment_moderation(self, request, principal, application_id, review_id):
        return self.awards.moderate_comment(application_id, review_id, read_json(request), principal.subject)

    @api("POST", "/api/v1/palmares/history", roles=ORGANISER)
    def import_past_palmares(self, request, principal):
        """Past palmarès (labelctl palmares import): each collectivité's levels
        before the system ran, so that progression reads its whole history."""
        return self.awards.import_history(read_json(request))

    @api("GET", "/api/v1/campaigns/<int:year>/release/preview", roles=ORGANISER)
    def get_release_preview(self, request, principal, year):
        self.submissions.get_campaign(year)  # 404 for an unknown campaign
        tally = first_count(lambda: self.awards.release_preview_tally(year))
        if tally["counts"] is None:
            raise ApiError(
                503,
                "preview_pending",
                "Aperçu en préparation : premier décompte en cours ; réessayez dans quelques secondes.",
                retry_after=PREVIEW_RETRY_SECONDS,
            )
        state = self.awards.release_state(year)["state"]
        return dict(
            tally["counts"],
            released=state in DECIDED,
            counted_at=tally["counted_at"],
            recounting=tally["recounting"],
        )

    @api("POST", "/api/v1/campaigns/<int:year>/release", roles=ORGANISER)
    def post_release(self, request, principal, year):
        body = read_json(request) if request.get_data(cache=True).strip() else {}
        return 202, request_release(self.awards, year, principal.subject, body)

    @api("GET", "/api/v1/campaigns/<int:year>/release", roles=ORGANISER)
    def get_release(self, request, principal, year):
        self.submissions.get_campaign(year)  # 404 for an unknown campaign
        return self.awards.release_state(year)

    # -- results (embargoed until the release for all but organisers) -------

    # What every visitor gets is kept as the bytes sent (public_cache.py): at the
    # ceremony a read costs neither an RPC nor encoding nor a page render.

    @api("GET", "/api/v1/campaigns/<int:year>/palmares", public=True)
    def get_palmares(self, request, principal, year):
        role = principal.role if principal else None

        def json_answer():
            head, export = self._export_head(principal, year)
            count = head.pop("chunks")
            if export is None:
                chunks = (self.awards.palmares_chunk(year, index, role) for index in range(count))
            else:
                chunks = (self.awards.draft_chunk(export, index) for index in range(count))
            return json_with_lines(head, chunks).encode()

        body = public_palmares.body(("json", year), json_answer, _public(principal))
        return body_response(request, body, "application/json")

    @api("GET", "/api/v1/campaigns/<int:year>/palmares.csv", public=True)
    def get_palmares_csv(self, request, principal, year):
        role = principal.role if principal else None

        def csv_text():
            out = io.StringIO()
            writer = csvsafe.writer(out, lineterminator="\r\n")  # no cell runs as a formula
            head, export = self._export_head(principal, year)
            for index in range(max(head["chunks"], 1)):  # the header with chunk 0
                if export is None:
                    writer.writerows(self.awards.palmares_rows(year, role, index))
                else:
                    writer.writerows(self.awards.draft_rows(year, export, index))
            return out.getvalue().encode()

        return body_response(
            request,
            public_palmares.body(("csv", year), csv_text, _public(principal)),
            "text/csv",
            headers={"Content-Disposition": f'attachment; filename="palmares-{year}.csv"'},
        )

    @api("GET", "/api/v1/applications/<application_id>/result", roles=("collectivite", "organiser"))
    def get_application_result(self, request, principal, application_id):
        return self.awards.application_result(application_id, principal.role, principal.subject)

    # -- public pages ----------------------------------------------------------

    @api("GET", "/palmares", public=True)
    def palmares_index_page(self, request, principal):
        return html("palmares_index.html", campaigns=self.awards.released_campaigns())

    @api("GET", "/palmares/<int:year>", public=True)
    def palmares_page(self, request, principal, year):
        return self._palmares_page(
            request,
            year,
            lambda: public_palmares.body(
                ("page", year),
                lambda: palmares_page_text(self._figures(principal, year)).encode(),
                _public(principal),
            ),
        )

    @api("GET", "/palmares/<int:year>/<region_slug>", public=True)
    def palmares_region_page(self, request, principal, year, region_slug):
        role = principal.role if principal else None

        def page():
            figures = self._figures(principal, year)
            region = region_named(figures, region_slug)
            if region is None:
                raise NotFound(
                    f"Aucune région ne porte ce nom : voyez les régions du palmarès {year}.",
                    "region_not_found",
                )
            if region not in figures["stats"]["by_region"]:  # none of its collectivités labelled
                return Body(palmares_region_text(figures, region).encode())
            return public_palmares.body(
                ("region", year, region),
                lambda: palmares_region_text(
                    self.awards.palmares(year, role, region=region), region
                ).encode(),
                _public(principal),
            )

        return self._palmares_page(request, year, page)

    def _export_head(self, principal, year):
        """(head, export) of an export: the palmarès' figures and number of
        chunks, whose lines are then read chunk by chunk (read whole, a
        national palmarès took the awards service 100 MiB above its idle
        size): a released palmarès' (export None), or, for an organiser
        before the release, a draft written out for this export (awards
        `draft_export`; `export` is its key)."""
        role = principal.role if principal else None
        if not _public(principal) and self.awards.release_state(year)["state"] != "released":
            head = self.awards.draft_export(year, role)
            return head, head.pop("export")
        head = self.awards.palmares(year, role, lines=False)
        head.pop("labelled")
        return head, None

    def _figures(self, principal, year):
        """The palmarès without its lines, read once for the year's page and its regions' pages."""
        role = principal.role if principal else None
        return public_palmares.get(
            ("figures", year), lambda: self.awards.palmares(year, role, lines=False), _public(principal)
        )

    @staticmethod
    def _palmares_page(request, year, render):
        """`render()`'s page (a public_cache.Body), or the page saying why there is none."""
        try:
            page = render()
        except Conflict as exc:
            return html("palmares_embargo.html", status=409, year=year, message=exc.message)
        except NotFound as exc:
            message = (
                exc.message if exc.code == "region_not_found" else f"Aucune campagne {year} n'est connue."
            )
            return html("palmares_embargo.html", status=404, year=year, message=message)
        return body_response(request, page, "text/html")
