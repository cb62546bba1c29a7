"""labelctl campaign …: create, show, list campaigns."""

import json

import click

from labelctl.base import (
    When,
    echo_json,
    handle_api_errors,
    pass_api,
)


@click.group()
def campaign():
    """Campagnes : créer, afficher, lister."""


@campaign.command("create")
@click.option("--year", type=int, required=True, help="Année de la campagne.")
@click.option(
    "--title",
    default=None,
    help="Titre (défaut : « Label Territoires, Villes et Villages Internet <année> »).",
)
@click.option("--open-at", type=When(), default="now", show_default=True, help="Ouverture des candidatures.")
@click.option("--close-at", type=When(), required=True, help="Clôture des candidatures (ISO 8601 ou +14d…).")
@click.option("--ceremony-at", type=When(), required=True, help="Date de la cérémonie (levée de l'embargo).")
@click.option("--place", "ceremony_place", default="Paris", show_default=True, help="Lieu de la cérémonie.")
@click.option(
    "--reviews-per-application", type=int, default=None, help="Évaluations par candidature (défaut 2)."
)
@click.option(
    "--village-max-population", type=int, default=None, help="Population maximale d'un village (défaut 3500)."
)
@click.option(
    "--grid",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Grille d'évaluation (JSON {enjeux: [...]}) ; défaut : la grille par défaut.",
)
@click.option(
    "--mentions",
    type=click.File("r", encoding="utf-8"),
    default=None,
    help="Mentions (JSON [{code, label}]) ; défaut : la liste par défaut.",
)
@click.option("--json", "as_json", is_flag=True, help="Afficher la réponse en JSON.")
@pass_api
@handle_api_errors
def campaign_create(
    api,
    year,
    title,
    open_at,
    close_at,
    ceremony_at,
    ceremony_place,
    reviews_per_application,
    village_max_population,
    grid,
    mentions,
    as_json,
):
    """Créer la campagne d'une année."""
    body = {
        "year": year,
        "title": title or f"Label Territoires, Villes et Villages Internet {year}",
        "submissions_open_at": open_at.isoformat(),
        "submissions_close_at": close_at.isoformat(),
        "ceremony_at": ceremony_at.isoformat(),
        "ceremony_place": ceremony_place,
    }
    if reviews_per_application is not None:
        body["reviews_per_application"] = reviews_per_application
    if village_max_population is not None:
        body["village_max_population"] = village_max_population
    try:
        if grid is not None:
            body["grid"] = json.load(grid)
        if mentions is not None:
            body["mentions"] = json.load(mentions)
    except ValueError as exc:
        raise click.BadParameter(f"JSON invalide : {exc}") from exc
    created = api.post("/campaigns", body)
    if as_json:
        echo_json(created)
    else:
        click.echo(f"Campagne {created.get('year', year)} créée : {created.get('title', body['title'])}")
        print_campaign(created)


def print_campaign(c):
    click.echo(f"  état : {c.get('state', '?')}")
    click.echo(f"  candidatures : du {c.get('submissions_open_at')} au {c.get('submissions_close_at')}")
    click.echo(f"  cérémonie : {c.get('ceremony_at')} à {c.get('ceremony_place')}")
    enjeux = (c.get("grid") or {}).get("enjeux") or []
    services = sum(len(e.get("services") or []) for e in enjeux)
    click.echo(
        f"  grille : {len(enjeux)} enjeux, {services} services ; "
        f"{len(c.get('mentions') or [])} mentions ; "
        f"{c.get('reviews_per_application', '?')} évaluations par candidature"
    )


@campaign.command("show")
@click.argument("year", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_api
@handle_api_errors
def campaign_show(api, year, as_json):
    """Afficher une campagne (état, dates, grille, mentions)."""
    c = api.get(f"/campaigns/{year}")
    if as_json:
        return echo_json(c)
    click.echo(f"Campagne {c.get('year')} : {c.get('title')}")
    print_campaign(c)
    for enjeu in (c.get("grid") or {}).get("enjeux") or []:
        click.echo(
            f"    [{enjeu.get('code')}] {enjeu.get('label')} ({len(enjeu.get('services') or [])} services)"
        )
    for mention in c.get("mentions") or []:
        click.echo(f"    mention [{mention.get('code')}] {mention.get('label')}")


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_api
@handle_api_errors
def campaign_list(api, as_json):
    """Lister les campagnes, la plus récente d'abord."""
    campaigns = api.get("/campaigns") or []
    if as_json:
        return echo_json(campaigns)
    if not campaigns:
        click.echo("Aucune campagne.")
    for c in campaigns:
        click.echo(
            f"{c.get('year')}  {c.get('state', '?'):<9} clôture {c.get('submissions_close_at')}  "
            f"{c.get('title', '')}"
        )
