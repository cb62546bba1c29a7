"""labelctl: the organiser's command line. It only talks to the gateway's public
HTTP API (API.md): LABEL_API_URL (default http://127.0.0.1:8000) and the token
LABEL_TOKEN, falling back to LABEL_ADMIN_TOKEN.

Exit codes: 0 success; 1 the API refused (its error is printed in French with
the fields); 2 bad usage; 3 the API cannot be reached; 4 an import or a demo
finished but some rows or steps failed (listed in the report).
"""

import click

from labelctl.client import Api, settings_from_env
from labelctl.commands import (
    campaigns,
    collectivites,
    deliberation,
    demo,
    importing,
    jurors,
    outbox,
    palmares,
    prediagnostic,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="LABEL_API_URL",
    default=None,
    help="Adresse de la passerelle (LABEL_API_URL, défaut http://127.0.0.1:8000).",
)
@click.option("--token", default=None, help="Jeton (défaut LABEL_TOKEN, sinon LABEL_ADMIN_TOKEN).")
@click.option("--timeout", default=30.0, show_default=True, help="Délai d'attente d'une requête (s).")
@click.pass_context
def cli(ctx, url, token, timeout):
    """labelctl : l'outil des organisateurs du label Territoires, Villes et Villages Internet."""
    env_url, env_token = settings_from_env()
    ctx.obj = Api(url or env_url, token or env_token, timeout=timeout)


for command in (
    campaigns.campaign,
    jurors.juror,
    collectivites.collectivite,
    importing.import_,
    deliberation.deliberation,
    deliberation.decide,
    deliberation.release,
    palmares.palmares,
    outbox.outbox,
    outbox.dead_letters,
    demo.demo,
    prediagnostic.prediagnostic,
):
    cli.add_command(command)


if __name__ == "__main__":
    cli()
