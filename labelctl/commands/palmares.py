"""labelctl palmares export."""

import csv
import io
import json

import click

from labelctl.base import (
    handle_api_errors,
    pass_api,
)
from labelctl.client import ApiError
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
