"""French grammar of place names: "de X", "à X", "X est …", written once.

INSEE's official geographic code gives each commune a type of name, TNCC,
which says which article its name takes and how "de" and "à" contract with it:

    0 no article, a consonant      Besançon     de Besançon     à Besançon
    1 no article, a vowel/mute h   Arras        d'Arras         à Arras
    2 "Le"                         Le Mans      du Mans         au Mans
    3 "La"                         La Rochelle  de La Rochelle  à La Rochelle
    4 "Les"                        Les Lilas    des Lilas       aux Lilas
    5 "L'"                         L'Isle-Adam  de L'Isle-Adam  à L'Isle-Adam
    6 "Aux"                        Aux Marais   des Marais      aux Marais
    7 "Las"                        Las Illas    de Las Illas    à Las Illas
    8 "Los"                        Los Masos    de Los Masos    à Los Masos

An EPCI's name keeps its own article, in lower case inside a sentence: "la
Communauté d'agglomération …", "le Syndicat …", "l'Établissement …".
"""

from services.common.french import fold
from services.common.types import Doc

TNCC_VALUES = tuple(range(9))
_ARTICLES = {2: "Le ", 3: "La ", 4: "Les ", 5: "L'", 6: "Aux ", 7: "Las ", 8: "Los "}
_VOWELS = "aeiouyh"
# The first word of an EPCI's name → its article.
_EPCI_FEMININE = ("communauté", "métropole", "agglomération")
_EPCI_ELIDED = ("établissement", "eurométropole")


def _plain(letter: str) -> str:
    return fold(letter)


def default_tncc(name: str) -> int:
    """The TNCC a commune's name suggests when INSEE's is not given."""
    name = name.strip().replace("’", "'")
    for tncc, article in _ARTICLES.items():
        if name.startswith(article) and len(name) > len(article):
            return tncc
    return 1 if name and _plain(name[0]) in _VOWELS else 0


def _bare(name: str, tncc: int) -> str:
    """The name without its article (for the contracted forms)."""
    article = _ARTICLES.get(tncc, "")
    name = name.replace("’", "'")
    return name[len(article) :] if article and name.startswith(article) else name


def _epci_article(name: str) -> str:
    first = name.split(" ", 1)[0].lower()
    if first.startswith(_EPCI_ELIDED):
        return "l'"
    return "la " if first.startswith(_EPCI_FEMININE) else "le "


def _tncc(place: Doc) -> int:
    value = place.get("tncc")
    if isinstance(value, int) and value in TNCC_VALUES:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) in TNCC_VALUES:
        return int(value)
    return default_tncc(place["name"])


# How "de" and "à" contract: with an EPCI's article, and with a commune's TNCC
# (the article is dropped where it contracts: "du Mans", "aux Lilas").
_EPCI_CONTRACTIONS = {
    "de": {"le ": "du ", "la ": "de la ", "l'": "de l'"},
    "à": {"le ": "au ", "la ": "à la ", "l'": "à l'"},
}
_COMMUNE_CONTRACTIONS = {
    "de": {1: "d'", 2: "du ", 4: "des ", 6: "des "},
    "à": {2: "au ", 4: "aux ", 6: "aux "},
}


def _with(preposition: str, place: Doc) -> str:
    name = str(place["name"]).strip()
    if place.get("kind") == "epci":
        return _EPCI_CONTRACTIONS[preposition][_epci_article(name)] + name
    tncc = _tncc(place)
    contracted = _COMMUNE_CONTRACTIONS[preposition].get(tncc)
    if contracted is None:
        return f"{preposition} {name}"
    return contracted + (_bare(name, tncc) if tncc in _ARTICLES else name)


def de(place: Doc) -> str:
    """'de Besançon', "d'Arras", 'du Mans', 'des Lilas', "de la Communauté …"."""
    return _with("de", place)


def a(place: Doc) -> str:
    """'à Besançon', 'au Mans', 'aux Lilas', 'à La Rochelle', "à la Communauté …"."""
    return _with("à", place)


def subject(place: Doc) -> str:
    """The name opening a sentence: 'Le Mans', 'La Communauté …' (an EPCI's article)."""
    name = str(place["name"]).strip()
    if place.get("kind") == "epci":
        article = _epci_article(name)
        return article.capitalize() + name if article != "l'" else "L'" + name
    return name


def agreed(place: Doc, masculine: str) -> str:
    """A past participle agreeing with the place: 'labellisé' → 'labellisée' (a
    commune, "la ville de …", or an EPCI "la Communauté …"), 'labellisés' (Les
    Lilas), 'labellisé' (Le Mans, le Syndicat …)."""
    if place.get("kind") == "epci":
        return masculine + ("e" if _epci_article(place["name"].strip()) == "la " else "")
    tncc = _tncc(place)
    if tncc == 7:  # Las: feminine plural
        return masculine + "es"
    if tncc in (4, 6, 8):  # Les, Aux, Los: plural
        return masculine + "s"
    if tncc == 2:  # Le
        return masculine
    return masculine + "e"  # La, L', or no article: "la ville de …"


def is_are(place: Doc) -> str:
    """'est' or 'sont' (Les Lilas sont labellisés)."""
    return "sont" if place.get("kind") != "epci" and _tncc(place) in (4, 6, 7, 8) else "est"
