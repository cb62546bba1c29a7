"""Reference data the services and labelctl share: the INSEE regions (codes
since 2016 → names, and which departments each holds) and what an email
address must look like. One copy, imported where needed."""

import re

from services.common.errors import NotFound

REGIONS: dict[str, str] = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}

_DEPARTMENTS_BY_REGION = {
    "01": "971",
    "02": "972",
    "03": "973",
    "04": "974",
    "06": "976",
    "11": "75 77 78 91 92 93 94 95",
    "24": "18 28 36 37 41 45",
    "27": "21 25 39 58 70 71 89 90",
    "28": "14 27 50 61 76",
    "32": "02 59 60 62 80",
    "44": "08 10 51 52 54 55 57 67 68 88",
    "52": "44 49 53 72 85",
    "53": "22 29 35 56",
    "75": "16 17 19 23 24 33 40 47 64 79 86 87",
    "76": "09 11 12 30 31 32 34 46 48 65 66 81 82",
    "84": "01 03 07 15 26 38 42 43 63 69 73 74",
    "93": "04 05 06 13 83 84",
    "94": "2A 2B",
}

# The official names, as a collectivité's `region` is written.
REGION_NAMES = tuple(REGIONS.values())

REGION_OF_DEPARTMENT: dict[str, str] = {
    dep: reg for reg, deps in _DEPARTMENTS_BY_REGION.items() for dep in deps.split()
}


def normalise_code(code: str | None) -> str:
    """'1' → '01' (spreadsheets drop leading zeros); other codes unchanged, upper-cased."""
    code = (code or "").strip().upper()
    return code.zfill(2) if code.isdigit() and len(code) == 1 else code


def region_name(code: str | None) -> str | None:
    """The region's name for an INSEE region code, None when unknown."""
    return REGIONS.get(normalise_code(code))


def region_of_department(department: str | None) -> str | None:
    return REGION_OF_DEPARTMENT.get(normalise_code(department))


# Deliberately loose: one @, a dotted domain whose last label has 2+ characters,
# no spaces. Enough to tell a typo or an empty field from an address worth trying.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def is_email(text: object) -> bool:
    return isinstance(text, str) and bool(EMAIL.match(text.strip()))


def campaign_year(value: object) -> int:
    """A campaign year given to an RPC; NotFound for what no campaign has (and
    MongoDB could not even store: an int past 8 bytes is a 500 otherwise)."""
    try:
        year = int(str(value))
    except ValueError:
        raise NotFound(f"Campagne inconnue : {str(value)[:20]}.", "campaign_not_found") from None
    if not 0 <= year <= 9999:
        raise NotFound(f"Campagne inconnue : {str(value)[:20]}.", "campaign_not_found")
    return year
