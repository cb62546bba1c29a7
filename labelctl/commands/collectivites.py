"""labelctl collectivite reassign."""

from urllib.parse import quote

import click

from labelctl.base import echo_json, handle_api_errors, pass_api


@click.group()
def collectivite():
    """Collectivités."""


@collectivite.command("reassign")
@click.argument("code")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True)
@pass_api
@handle_api_errors
def collectivite_reassign(api, code, email, as_json):
    """Rendre le code CODE à l'adresse EMAIL (un code pris par quelqu'un d'autre) :
    les sessions et les jetons de l'ancien titulaire sont fermés, EMAIL reçoit le lien de confirmation."""
    done = api.post(f"/collectivites/{quote(code, safe='')}/reassign", {"email": email})
    if as_json:
        return echo_json(done)
    click.echo(f"Collectivité {done.get('id')} : rendue à {done.get('email')}.")
    click.echo(f"Sessions fermées : {done.get('sessions_ended', 0)} ; anciens jetons refusés dès maintenant.")
    click.echo("Un lien de confirmation est envoyé à cette adresse.")
