"""labelctl import FILE: the collectivités of a CSV, signed up through the API."""

import sys

import click

from labelctl.base import (
    EXIT_API,
    EXIT_PARTIAL,
    EXIT_USAGE,
    fail,
    handle_api_errors,
    pass_api,
)
from labelctl.importer import ImportAborted, Importer, tokens_file_writer
from labelctl.rows import HeaderError, count_lines


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--workers", default=8, show_default=True, type=click.IntRange(1, 32), help="Requêtes en parallèle."
)
@click.option("--dry-run", is_flag=True, help="Valider le fichier sans rien envoyer.")
@click.option(
    "--tokens-out",
    type=click.File("w", encoding="utf-8"),
    default=None,
    help="Écrire COM, ID, TOKEN des collectivités inscrites dans ce fichier CSV.",
)
@click.option("--encoding", default="utf-8-sig", show_default=True)
@click.option("--no-progress", is_flag=True, help="Sans barre de progression.")
@pass_api
@handle_api_errors
def import_(api, file, workers, dry_run, tokens_out, encoding, no_progress):
    """Importer des collectivités depuis un CSV (COM, LIBELLE, DEP, REG, PTOT, EMAIL[, KIND, MEMBERS]).

    Le fichier est lu en flux ; chaque ligne est validée localement puis
    inscrite (POST /api/v1/collectivites). Rapport final : importées, déjà
    connues, rejetées avec leur numéro de ligne et la raison."""
    api.pool_size = max(api.pool_size, workers)
    importer = Importer(
        api,
        workers=workers,
        dry_run=dry_run,
        tokens_writer=tokens_file_writer(tokens_out) if tokens_out else None,
    )
    total = None if no_progress else count_lines(file)
    try:
        with open(file, encoding=encoding, newline="") as fh:
            if no_progress:
                report = importer.run(fh)
            else:
                with click.progressbar(
                    length=total, label="Import", file=sys.stderr, show_pos=True, show_eta=True
                ) as bar:
                    report = importer.run(fh, on_row=lambda: bar.update(1))
    except HeaderError as exc:
        fail(f"Fichier refusé : {exc}", EXIT_USAGE)
    except UnicodeDecodeError as exc:
        fail(f"Fichier refusé : encodage illisible ({exc}) ; essayez --encoding latin-1", EXIT_USAGE)
    except ImportAborted as exc:
        fail(
            f"Import interrompu par l'API :\n{exc}\n"
            f"(déjà importées avant l'arrêt : {importer.report.imported})",
            EXIT_API,
        )
    for line in report.lines(click.format_filename(file), dry_run=dry_run):
        click.echo(line)
    if report.rejected:
        sys.exit(EXIT_PARTIAL)
