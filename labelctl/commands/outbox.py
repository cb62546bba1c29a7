"""labelctl outbox … and dead-letters …: the mail sent and the messages a service gave up on."""

import click

from labelctl.base import (
    echo_json,
    handle_api_errors,
    pass_api,
)


@click.group()
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


@click.group("dead-letters")
def dead_letters():
    """Messages qu'un service n'a pas pu traiter (file des lettres mortes)."""


@dead_letters.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 200))
@click.option("--json", "as_json", is_flag=True)
@pass_api
@handle_api_errors
def dead_letters_list(api, limit, as_json):
    """Lister les messages en échec, sans les retirer de la file."""
    letters = api.call("GET", "/dead-letters", params={"limit": limit}) or []  # one page: the first ones
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
    kept = result.get("kept") or []
    for reason in kept:
        click.echo(reason, err=True)
    if kept:
        raise SystemExit(1)  # some letters stayed in the queue: a script must notice
