"""The baromètre (JSON, CSV, public pages), the Atlaas directory of initiatives
(API and public page) and the collectivité's pré-diagnostic (API); a mixin of
GatewayService. The submissions service computed everything at the release:
these handlers read its documents and translate."""

import io

from werkzeug.wrappers import Response

from services.common import csvsafe
from services.common.errors import Conflict, NotFound, ValidationFailed
from services.common.french import CATEGORY_LABELS, sort_key
from services.common.reference import REGION_NAMES
from services.gateway import charts
from services.gateway.http import api
from services.gateway.routes.awards import html

SEARCH_KEYS = ("q", "enjeu", "region", "band", "year", "limit", "cursor")
BANDS = (
    ("moins_3500", "Moins de 3 500 habitants"),
    ("3500_20000", "De 3 500 à 20 000 habitants"),
    ("20000_100000", "De 20 000 à 100 000 habitants"),
    ("plus_100000", "Plus de 100 000 habitants"),
)
REGIONS = tuple(sorted(REGION_NAMES, key=sort_key))


def search_filters(args):
    """The query string's known filters, empty ones left out."""
    return {key: args.get(key, "").strip() for key in SEARCH_KEYS if args.get(key, "").strip()}


def barometre_charts(view):
    def shown(rows):
        return [(row["label"], row["mean_services"]) for row in rows if not row["withheld"]]

    return {
        "enjeux": charts.horizontal_bars(
            [(row["label"], row["share"]) for row in view["enjeux"]],
            f"Part des initiatives par enjeu en {view['year']}, en pourcentage",
            unit=" %",
        ),
        "bands": charts.horizontal_bars(
            shown(view["bands"]), "Services proposés en moyenne par collectivité, selon la population"
        ),
        "categories": charts.horizontal_bars(
            shown(view["categories"]), "Services proposés en moyenne par collectivité, selon la catégorie"
        ),
    }


class BarometreRoutes:
    # -- API -----------------------------------------------------------------------

    @api("GET", "/api/v1/barometre", public=True)
    def get_barometre_years(self, request, principal):
        return {"years": self.submissions.barometre_years()}

    @api("GET", "/api/v1/barometre/<int:year>", public=True)
    def get_barometre(self, request, principal, year):
        return self.submissions.barometre(year)

    @api("GET", "/api/v1/barometre/<int:year>.csv", public=True)
    def get_barometre_csv(self, request, principal, year):
        view = self.submissions.barometre(year)
        out = io.StringIO()
        csvsafe.writer(out, lineterminator="\r\n").writerows(_csv_rows(view))
        return Response(
            out.getvalue(),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="barometre-{year}.csv"'},
        )

    @api("GET", "/api/v1/initiatives", public=True)
    def get_initiatives(self, request, principal):
        return self.submissions.search_initiatives(search_filters(request.args))

    @api("GET", "/api/v1/collectivites/<collectivite_id>/prediagnostic", roles=("collectivite", "organiser"))
    def get_prediagnostic(self, request, principal, collectivite_id):
        return self.submissions.prediagnostic(collectivite_id, principal.role, principal.subject)

    # -- public pages --------------------------------------------------------------

    @api("GET", "/barometre", public=True)
    def barometre_index_page(self, request, principal):
        return html("barometre_index.html", years=self.submissions.barometre_years())

    @api("GET", "/barometre/<int:year>", public=True)
    def barometre_page(self, request, principal, year):
        try:
            view = self.submissions.barometre(year)
        except Conflict as exc:
            return html("barometre_embargo.html", status=409, year=year, message=exc.message)
        except NotFound:
            return html(
                "barometre_embargo.html",
                status=404,
                year=year,
                message=f"Aucune campagne {year} n'est connue.",
            )
        return html(
            "barometre_year.html", view=view, charts=barometre_charts(view), category_labels=CATEGORY_LABELS
        )

    @api("GET", "/initiatives", public=True)
    def initiatives_page(self, request, principal):
        filters = search_filters(request.args)
        years = self.submissions.barometre_years()
        enjeux = []
        if years:
            enjeux = self.submissions.get_campaign(years[0])["grid"]["enjeux"]
        errors, status = {}, 200
        try:
            found = self.submissions.search_initiatives(filters)
        except ValidationFailed as exc:
            errors, status = exc.fields, 422
            found = {"items": [], "next_cursor": None}
        following = None
        if found["next_cursor"]:
            following = dict(filters, cursor=found["next_cursor"])
        return html(
            "initiatives.html",
            status=status,
            filters=filters,
            errors=errors,
            found=found,
            following=following,
            years=years,
            enjeux=enjeux,
            regions=REGIONS,
            bands=BANDS,
            category_labels=CATEGORY_LABELS,
        )


def _csv_rows(view):
    rows = [["section", "code", "libelle", "effectif", "valeur", "evolution_points"]]
    for row in view["enjeux"]:
        rows.append(
            [
                "enjeu_part_initiatives",
                row["code"],
                row["label"],
                row["initiatives"],
                row["share"],
                row["change"],
            ]
        )
    for row in view["services"]:
        rows.append(
            [
                "service_part_collectivites",
                row["code"],
                row["label"],
                row["collectivites"],
                row["share"],
                row["change"],
            ]
        )
    for section, name in (("bands", "tranche"), ("categories", "categorie"), ("regions", "region")):
        for row in view[section]:
            rows.append(
                [
                    f"{name}_services_moyens",
                    row["code"],
                    row["label"],
                    row["collectivites"],
                    row["mean_services"],
                    None,
                ]
            )
    return rows
