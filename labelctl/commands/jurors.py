"""labelctl juror add."""

import click

from labelctl.base import (
    echo_json,
    handle_api_errors,
    pass_api,
)


@click.group()
def juror():
    """Jurés."""


@juror.command("add")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option(
    "--department",
    required=True,
    help="Département du juré (il n'évaluera pas les collectivités de celui-ci).",
)
@click.option(
    "--conflict",
    "conflicts",
    multiple=True,
    help="Code INSEE d'une collectivité en conflit d'intérêts (répétable).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_api
@handle_api_errors
def juror_add(api, name, email, department, conflicts, as_json):
    """Inscrire un juré ; affiche son identifiant et son jeton."""
    body = {"name": name, "email": email, "department": department}
    if conflicts:
        body["conflicts"] = list(conflicts)
    created = api.post("/jurors", body)
    if as_json:
        return echo_json(created)
    click.echo(f"Juré inscrit : {created.get('id')}")
    click.echo(f"Jeton : {created.get('token')}")
