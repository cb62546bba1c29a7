"""labelctl demo: a whole campaign played on the running system."""

import click

from labelctl.base import (
    EXIT_PARTIAL,
    fail,
    handle_api_errors,
    pass_api,
)


@click.command()
@click.option(
    "--year",
    type=int,
    default=None,
    help="Année de la première campagne, celle des articles de 2016 ; les suivantes gardent leur écart "
    "(2017 → +1, 2019 → +3). Défaut : les années des articles si elles sont libres, sinon les suivantes.",
)
@click.option(
    "--generated",
    default=12,
    show_default=True,
    help="Collectivités générées en plus des collectivités des articles.",
)
@click.option("--jurors", "juror_count", default=6, show_default=True)
@click.option(
    "--close-in", default=180, show_default=True, help="Secondes avant la clôture des candidatures."
)
@click.option("--ceremony-in", default=240, show_default=True, help="Secondes avant la cérémonie.")
@click.option(
    "--timeout", "step_timeout", default=300, show_default=True, help="Attente maximale d'une étape (s)."
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False),
    default=None,
    envvar="LABELCTL_STATE_DIR",
    help="Où garder les jetons des collectivités de la démo (pour la rejouer).",
)
@click.option("--seed", default=None, type=int, help="Graine du hasard (reproductible).")
@click.option(
    "--exclude",
    multiple=True,
    help="Code INSEE/SIREN d'une collectivité des articles à laisser de côté (répétable).",
)
@pass_api
@handle_api_errors
def demo(api, year, generated, juror_count, close_in, ceremony_in, step_timeout, state_dir, seed, exclude):
    """Jouer les campagnes des articles (une par année : 2016, 2017, 2019) sur le
    système lancé (make run) : inscriptions, candidatures, jury, délibération,
    publication, courriels. Niveaux et mentions sont ceux que rapportent les
    articles ; ceux qu'ils ne donnent pas sont inventés, et signalés comme tels."""
    from labelctl.demo import Demo, DemoFailed

    try:
        result = Demo(
            api,
            echo=click.echo,
            year=year,
            generated=generated,
            jurors=juror_count,
            close_in=close_in,
            ceremony_in=ceremony_in,
            timeout=step_timeout,
            state_dir=state_dir,
            seed=seed,
            exclude=exclude,
        ).run()
    except DemoFailed as exc:
        fail(f"La démo s'est arrêtée : {exc}", EXIT_PARTIAL)
    return result
