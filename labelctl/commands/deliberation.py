"""labelctl deliberation show, decide, release."""

import time

import click

from labelctl.base import (
    echo_json,
    fail,
    handle_api_errors,
    pass_api,
)
from labelctl.client import ApiError

# How often a release still being prepared (a national draft) is asked about.
RELEASE_POLL_SECONDS = 2


def collectivite_label(c):
    if isinstance(c, dict):
        return f"{c.get('name', '?')} ({c.get('insee_code', '?')})"
    return str(c)


def proposal_text(p):
    if not p:
        return "—"
    mentions = ", ".join(p.get("mentions") or [])
    return f"{p.get('arobases', '?')} @" + (f" + {mentions}" if mentions else "")


@click.group()
def deliberation():
    """Délibération."""


@deliberation.command("show")
@click.argument("year", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.option("--disagreements", is_flag=True, help="Seulement les désaccords entre jurés.")
@pass_api
@handle_api_errors
def deliberation_show(api, year, as_json, disagreements):
    """Candidatures, proposition du jury, désaccords, décisions."""
    rows = api.get(f"/campaigns/{year}/deliberation") or []
    if disagreements:
        rows = [r for r in rows if r.get("disagreement")]
    if as_json:
        return echo_json(rows)
    if not rows:
        click.echo("Aucune candidature à délibérer.")
    for r in rows:
        flag = "DÉSACCORD " if r.get("disagreement") else ""
        decision = r.get("decision")
        reviews = r.get("reviews") or []
        click.echo(
            f"{r.get('application_id')}  {collectivite_label(r.get('collectivite'))}  "
            f"proposition {proposal_text(r.get('proposal'))}  ({len(reviews)} évaluations) "
            f"{flag}décision {proposal_text(decision) if decision else 'à prendre'}"
        )


@click.command()
@click.argument("application_id")
@click.option("--arobases", type=click.IntRange(1, 5), required=True)
@click.option("--mention", "mentions", multiple=True, help="Code de mention (répétable).")
@click.option(
    "--reason", default=None, help="Motif (obligatoire si la décision s'écarte de la proposition du jury)."
)
@pass_api
@handle_api_errors
def decide(api, application_id, arobases, mentions, reason):
    """Enregistrer la décision des organisateurs sur une candidature."""
    body = {"arobases": arobases, "mentions": list(mentions)}
    if reason:
        body["reason"] = reason
    api.put(f"/applications/{application_id}/decision", body)
    click.echo(
        f"Décision enregistrée pour {application_id} : {arobases} @"
        + (f" + {', '.join(mentions)}" if mentions else "")
    )


def release_preview(api, year):
    """The preview, once its first count is made (a national one takes a minute)."""
    while True:
        try:
            return api.get(f"/campaigns/{year}/release/preview")
        except ApiError as exc:
            if exc.code != "preview_pending":
                raise
            click.echo("Aperçu en préparation (premier décompte en cours)…")
            time.sleep(RELEASE_POLL_SECONDS)


def print_preview(p):
    by = p.get("by_arobases") or {}
    click.echo(f"Prêt : {'oui' if p.get('ready') else 'non'}")
    click.echo("Par arobases : " + (", ".join(f"{k} @ : {v}" for k, v in sorted(by.items())) or "—"))
    click.echo(f"Courriels à envoyer : {p.get('emails_to_send', 0)}")
    if p.get("undecided"):
        click.echo(f"Sans décision ni proposition ({len(p['undecided'])}) : " + ", ".join(p["undecided"]))
    if p.get("missing_email"):
        click.echo(
            f"Sans adresse électronique ({len(p['missing_email'])}) : " + ", ".join(p["missing_email"])
        )


@click.command()
@click.argument("year", type=int)
@click.option("--preview", is_flag=True, help="Montrer ce que ferait la publication, sans rien changer.")
@click.option("--force", is_flag=True, help="Publier même si l'aperçu n'est pas prêt.")
@pass_api
@handle_api_errors
def release(api, year, preview, force):
    """Publier le palmarès d'une campagne (lève l'embargo, envoie les courriels)."""
    p = release_preview(api, year)
    print_preview(p)
    if preview:
        return
    if not p.get("ready") and not force:
        fail(
            "Publication refusée : l'aperçu n'est pas prêt (voir ci-dessus) ; "
            "--force pour publier quand même."
        )
    state = api.post(f"/campaigns/{year}/release")
    if state.get("state") == "requested":  # a national draft outlasts the call
        click.echo(f"Publication du palmarès {year} demandée : il est en préparation…")
    while state.get("state") == "requested":
        time.sleep(RELEASE_POLL_SECONDS)
        state = api.get(f"/campaigns/{year}/release")
    if state.get("state") == "refused":
        fail(f"Publication refusée : {state['refusal']['message']}")
    click.echo(f"Palmarès {year} publié (les courriels de résultats partent).")
