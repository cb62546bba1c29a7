"""What French readers see, written once: dates in Paris time, category labels."""

import re
import unicodedata
import zoneinfo

from services.common.clock import parse

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
CATEGORY_LABELS = {"ville": "Ville", "village": "Village", "territoire": "Territoire"}
CATEGORY_PLURALS = {"ville": "villes", "village": "villages", "territoire": "territoires"}
# An application's state, as a sentence says it ("la candidature est déposée").
APPLICATION_STATE_LABELS = {"draft": "brouillon", "submitted": "déposée", "withdrawn": "retirée"}
# A labelled collectivité against its previous label.
PROGRESSION_LABELS = {
    "new": "Nouveau",
    "kept": "Maintenu",
    "gained": "En progression",
    "lost": "En recul",
    "back": "De retour",
}


def fold(text: str) -> str:
    """Lower case without accents, for comparing names ("Île" and "ile")."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def sort_key(text: str) -> tuple[str, str]:
    """French alphabetical order: accents and case do not count first
    ("Île-de-France" between "Hauts-de-France" and "La Réunion", not last)."""
    folded = fold(text)
    return folded, text


def slug(text: str) -> str:
    """A name as a URL's path segment: "Provence-Alpes-Côte d'Azur" gives
    "provence-alpes-cote-d-azur"."""
    return "-".join(re.findall(r"[a-z0-9]+", fold(text))) or "-"


def french_date(text: object, with_time: bool = True) -> str:
    """'2017-12-12T18:00:00+00:00' -> '12 décembre 2017 à 19 h 00' (Paris time);
    text that is not an ISO 8601 time with a zone is returned as it is."""
    try:
        moment = parse(str(text)).astimezone(PARIS)
    except (TypeError, ValueError):
        return "" if text is None else str(text)
    day = "1er" if moment.day == 1 else str(moment.day)
    out = f"{day} {MONTHS[moment.month - 1]} {moment.year}"
    if with_time:
        out += f" à {moment.hour} h {moment.minute:02d}"
    return out


def french_score(value: float | None) -> str:
    """A score as French writes it: "2,5"; None (no score) reads "n. a." (non applicable)."""
    if value is None:
        return "n. a."
    return f"{value:g}".replace(".", ",")
