"""labelctl prediagnostic CODE: a collectivité compared with similar ones."""

import json
from urllib.parse import quote

import click

from labelctl.base import handle_api_errors, pass_api


def render(result: dict) -> str:
    """The pré-diagnostic as plain French text."""
    if result["withheld"]:
        return (
            f"Moins de {result['min_group']} collectivités comparables ({result['band_label'].lower()}, "
            f"{result['category']}) en {result['reference_year']} : comparaison non publiée.\n"
        )
    lines = [
        f"Candidature {result['campaign_year']} comparée aux {result['collectivites']} collectivités "
        f"comparables de {result['reference_year']} ({result['band_label'].lower()}, {result['category']}).",
        "",
        "Services souvent proposés par les collectivités comparables, pas encore par celle-ci :",
    ]
    lines += [f"  {s['share']:5.1f} %  {s['label']}".replace(".", ",") for s in result["suggestions"]] or [
        "  aucun : tous les services de la grille sont proposés."
    ]
    lines += ["", "Par enjeu (services de la collectivité / moyenne des comparables) :"]
    for e in result["enjeux"]:
        mean = f"{e['peers_mean']:.1f}".replace(".", ",")
        lines.append(f"  {e['label']} : {e['services']} / {mean} ({e['position']})")
    return "\n".join(lines) + "\n"


@click.command("prediagnostic")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="La réponse de l'API telle quelle (JSON).")
@pass_api
@handle_api_errors
def prediagnostic(api, code, as_json):
    """Pré-diagnostic d'une collectivité (code INSEE ou SIREN) : ses services comparés
    à ceux des collectivités de sa taille et de sa catégorie (au moins 5)."""
    result = api.get(f"/collectivites/{quote(code, safe='')}/prediagnostic")
    click.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else render(result), nl=False)
