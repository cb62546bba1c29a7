"""labelctl: the organiser's command line. It only talks to the gateway's public
HTTP API (API.md): LABEL_API_URL (default http://127.0.0.1:8000) and the token
LABEL_TOKEN, falling back to LABEL_ADMIN_TOKEN.

Exit codes: 0 success; 1 the API refused (its error is printed in French with
the fields); 2 bad usage; 3 the API cannot be reached; 4 an import or a demo
finished but some rows or steps failed (listed in the report).
"""

import csv
import functools
import io
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click

from services.cli.client import Api, ApiError, settings_from_env
from services.cli.importer import ImportAborted, Importer, tokens_file_writer
from services.cli.rows import HeaderError, count_lines
from services.common import csvsafe

EXIT_API, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_PARTIAL = 1, 2, 3, 4
PARIS = ZoneInfo("Europe/Paris")


def fail(message, code=EXIT_API):
    click.echo(message, err=True)
    sys.exit(code)


def handle_api_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            fail(exc.french(), EXIT_UNREACHABLE if exc.status == 0 else EXIT_API)

    return wrapper


def echo_json(data):
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


_RELATIVE = re.compile(r"^(?:now|maintenant)?\s*([+-])\s*(\d+)\s*([smhdj])$")


def parse_when(text, now=None):
    """An ISO 8601 date (a naive one is Paris time), 'now', or relative '+10m', '-1h', '+3d'."""
    now = now or datetime.now(UTC)
    text = text.strip().lower()
    if text in ("now", "maintenant"):
        return now
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(
            **{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "j": "days"}[unit]: int(amount)}
        )
        return now + delta if sign == "+" else now - delta
    try:
        value = datetime.fromisoformat(text.upper() if "t" in text else text)
    except ValueError:
        raise click.BadParameter(f"date invalide « {text} » (ISO 8601, now, +10m, +2h, +3d)") from None
    return value if value.tzinfo else value.replace(tzinfo=PARIS)


class When(click.ParamType):
    name = "date"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        return parse_when(value)


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


pass_api = click.make_pass_decorator(Api)


# --- campaigns -------------------------------------------------------------


@cli.group()
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


# --- jurors ----------------------------------------------------------------


@cli.group()
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


# --- import ----------------------------------------------------------------


@cli.command("import")
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


# --- deliberation, decisions, release -------------------------------------


def collectivite_label(c):
    if isinstance(c, dict):
        return f"{c.get('name', '?')} ({c.get('insee_code', '?')})"
    return str(c)


def proposal_text(p):
    if not p:
        return "—"
    mentions = ", ".join(p.get("mentions") or [])
    return f"{p.get('arobases', '?')} @" + (f" + {mentions}" if mentions else "")


@cli.group()
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


@cli.command()
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


@cli.command()
@click.argument("year", type=int)
@click.option("--preview", is_flag=True, help="Montrer ce que ferait la publication, sans rien changer.")
@click.option("--force", is_flag=True, help="Publier même si l'aperçu n'est pas prêt.")
@pass_api
@handle_api_errors
def release(api, year, preview, force):
    """Publier le palmarès d'une campagne (lève l'embargo, envoie les courriels)."""
    p = api.get(f"/campaigns/{year}/release/preview")
    print_preview(p)
    if preview:
        return
    if not p.get("ready") and not force:
        fail(
            "Publication refusée : l'aperçu n'est pas prêt (voir ci-dessus) ; "
            "--force pour publier quand même."
        )
    api.post(f"/campaigns/{year}/release")
    click.echo(f"Palmarès {year} publié (les courriels de résultats partent).")


# --- palmarès ----------------------------------------------------------------


@cli.group()
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


# --- outbox ----------------------------------------------------------------


@cli.group()
def outbox():
    """Courriels sortants."""


@outbox.command("list")
@click.option("--state", type=click.Choice(["queued", "sent", "failed"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_api
@handle_api_errors
def outbox_list(api, state, as_json):
    """Lister les courriels (destinataire, modèle, état, tentatives)."""
    mails = api.get("/outbox", params={"state": state} if state else None) or []
    if as_json:
        return echo_json(mails)
    if not mails:
        click.echo("Aucun courriel.")
    for m in mails:
        click.echo(
            f"{m.get('id')}  {m.get('state', '?'):<7} {m.get('attempts', 0)} essai(s)  "
            f"{m.get('template', '?'):<28} {recipient_of(m)}"
        )


def recipient_of(mail):
    r = mail.get("recipient") or mail.get("to")
    if isinstance(r, dict):
        return r.get("email") or r.get("address") or str(r)
    if isinstance(r, list):
        return ", ".join(recipient_of({"recipient": x}) for x in r)
    return str(r or "?")


@outbox.command("show")
@click.argument("mail_id")
@click.option("--html", is_flag=True, help="Afficher aussi la version HTML.")
@click.option("--json", "as_json", is_flag=True)
@pass_api
@handle_api_errors
def outbox_show(api, mail_id, html, as_json):
    """Afficher un courriel rendu (objet, texte, HTML)."""
    m = api.get(f"/outbox/{mail_id}")
    if as_json:
        return echo_json(m)
    click.echo(f"À : {recipient_of(m)}")
    click.echo(f"Objet : {m.get('subject', '')}")
    click.echo(
        f"État : {m.get('state', '?')} ({m.get('attempts', 0)} essai(s)), modèle {m.get('template', '?')}"
    )
    click.echo("")
    click.echo(m.get("text") or m.get("body_text") or "")
    if html:
        click.echo("\n--- HTML ---")
        click.echo(m.get("html") or m.get("body_html") or "")


@outbox.command("resend")
@click.argument("mail_id")
@pass_api
@handle_api_errors
def outbox_resend(api, mail_id):
    """Renvoyer un courriel en échec."""
    api.post(f"/outbox/{mail_id}/resend")
    click.echo(f"Courriel {mail_id} remis en file d'envoi.")


@cli.group("dead-letters")
def dead_letters():
    """Messages qu'un service n'a pas pu traiter (file des lettres mortes)."""


@dead_letters.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@pass_api
@handle_api_errors
def dead_letters_list(api, limit, as_json):
    """Lister les messages en échec, sans les retirer de la file."""
    letters = api.get("/dead-letters", params={"limit": limit}) or []
    if as_json:
        return echo_json(letters)
    if not letters:
        click.echo("Aucun message en échec.")
    for letter in letters:
        error = (letter.get("error") or "").strip().splitlines()
        click.echo(
            f"{letter.get('failed_at')}  {letter.get('event')} → {letter.get('consumer')}."
            f"{letter.get('handler')}  {letter.get('attempts')} essai(s)  {error[-1] if error else ''}"
        )


@dead_letters.command("replay")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@pass_api
@handle_api_errors
def dead_letters_replay(api, limit):
    """Republier les messages en échec (les services qui les ont déjà traités les ignorent)."""
    result = api.post("/dead-letters/replay", params={"limit": limit}) or {}
    click.echo(f"{result.get('replayed', 0)} message(s) republié(s).")


# --- demo ------------------------------------------------------------------


@cli.command()
@click.option("--year", type=int, default=None, help="Année de la campagne (défaut : la prochaine libre).")
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
    """Jouer une campagne entière sur le système lancé (make run) : inscriptions,
    candidatures, jury, délibération, publication, courriels."""
    from services.cli.demo import Demo, DemoFailed

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


if __name__ == "__main__":
    cli()
