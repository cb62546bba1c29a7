"""labelctl palmares export."""

import csv
import io
import json

import click

from labelctl.base import (
    EXIT_PARTIAL,
    EXIT_USAGE,
    fail,
    handle_api_errors,
    pass_api,
)
from labelctl.client import ApiError
from labelctl.past_palmares import parse_past_palmares
from services.common import csvsafe


@click.group()
def palmares():
    """Palmarès."""


@palmares.command("export")
@click.argument("year", type=int)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Fichier de sortie (défaut : la sortie standard).",
)
@pass_api
@handle_api_errors
def palmares_export(api, year, fmt, output):
    """Exporter le palmarès d'une campagne en CSV ou JSON."""
    if fmt == "json":
        output.write(json.dumps(api.get(f"/campaigns/{year}/palmares"), ensure_ascii=False, indent=2) + "\n")
    else:
        response = api.raw("GET", f"/campaigns/{year}/palmares.csv")
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        response.encoding = response.encoding or "utf-8"
        # written again through the formula-safe writer (a gateway older than that may not be)
        rows = csv.reader(io.StringIO(response.text, newline=""))
        csvsafe.writer(output, lineterminator="\r\n").writerows(rows)


@palmares.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@pass_api
@handle_api_errors
def palmares_import(api, file):
    """Importer un palmarès passé (CSV : annee, code, nom, arobases, mentions) :
    l'historique des niveaux, pour la progression des campagnes suivantes."""
    try:
        rows, rejected = parse_past_palmares(file)
    except ValueError as exc:
        fail(f"Fichier refusé : {exc}.", EXIT_USAGE)
    for start in range(0, len(rows), 500):
        api.post("/palmares/history", {"rows": rows[start : start + 500]})
    click.echo(f"{len(rows)} ligne{'s' if len(rows) > 1 else ''} importée{'s' if len(rows) > 1 else ''}, "
               f"{len(rejected)} refusée{'s' if len(rejected) > 1 else ''}.")  # fmt: skip
    for line, reasons in rejected:
        click.echo(f"  ligne {line} : " + " ; ".join(reasons), err=True)
    if rejected:
        raise SystemExit(EXIT_PARTIAL)
