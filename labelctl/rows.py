"""Reading the collectivités CSV: header check, one row → sign-up payload.

Pure functions (no HTTP), so they are unit-tested alone and the import can
validate every row locally before spending a request on it.
"""

import csv
import re

from services.common.reference import is_email, normalise_code, region_name, region_of_department

REQUIRED_COLUMNS = ("COM", "LIBELLE", "DEP", "REG", "PTOT", "EMAIL")
OPTIONAL_COLUMNS = ("KIND", "MEMBERS", "TNCC")
KINDS = ("commune", "epci")

# A commune's INSEE code starts with its department: 2 digits (2A/2B in
# Corsica) then 3, or 97x then 2 overseas. An EPCI is known by its SIREN.
_INSEE = re.compile(r"^(?:\d{2}|2A|2B)\d{3}$")
_SIREN = re.compile(r"^\d{9}$")
_MEMBER_SPLIT = re.compile(r"[\s;,|]+")


class HeaderError(ValueError):
    """The file's header lacks required columns."""


class RowRejected(ValueError):
    """A row that cannot be imported; `reasons` in French, one per problem."""

    def __init__(self, reasons):
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


def sniff_delimiter(header_line):
    """French spreadsheets export with ';'; others with ','."""
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def check_header(fieldnames):
    """Canonical column names (upper-case, trimmed); raises HeaderError when one is missing."""
    names = [(name or "").strip().lstrip("\ufeff").upper() for name in (fieldnames or [])]
    missing = [col for col in REQUIRED_COLUMNS if col not in names]
    if missing:
        raise HeaderError(
            "colonnes manquantes dans l'en-tête : "
            + ", ".join(missing)
            + " (attendu : "
            + ", ".join(REQUIRED_COLUMNS)
            + ", et facultatives "
            + ", ".join(OPTIONAL_COLUMNS)
            + ")"
        )
    return names


def normalise_insee(code):
    """Upper-cased and trimmed; a 4-digit code regains the leading zero a spreadsheet dropped."""
    code = (code or "").strip().upper()
    if code.isdigit() and len(code) == 4:
        code = "0" + code
    return code


def department_of_insee(code):
    return code[:3] if code.startswith("97") else code[:2]


def parse_population(text):
    """An integer ≥ 1; accepts French thousands separators ('35 000', '35 000')."""
    cleaned = re.sub(r"[\s\u00a0\u202f]", "", text or "")
    if not cleaned.isdigit():
        return None
    value = int(cleaned)
    return value if value > 0 else None


def parse_row(row):
    """A CSV row (dict of canonical column → text) → the POST /collectivites payload.

    Raises RowRejected listing every problem found in the row."""
    get = lambda col: (row.get(col) or "").strip()  # noqa: E731
    reasons = []

    kind = get("KIND").lower()
    code = normalise_insee(get("COM"))
    if not kind:
        kind = "epci" if _SIREN.match(code) else "commune"
    if kind not in KINDS:
        reasons.append(f"KIND : type « {get('KIND')} » inconnu (commune ou epci attendu)")

    if not code:
        reasons.append("COM : code manquant")
    elif kind == "epci":
        if not _SIREN.match(code):
            reasons.append(f"COM : numéro SIREN d'EPCI invalide « {code} » (9 chiffres attendus)")
    elif not _INSEE.match(code):
        reasons.append(f"COM : code INSEE invalide « {code} » (5 caractères, ex. 25056 ou 2A004)")

    name = get("LIBELLE")
    if not name:
        reasons.append("LIBELLE : nom manquant")

    department = normalise_code(get("DEP"))
    region_code = normalise_code(get("REG"))
    region = region_name(region_code)
    if not department:
        reasons.append("DEP : département manquant")
    elif region_of_department(department) is None:
        reasons.append(f"DEP : département inconnu « {department} »")
    if not region_code:
        reasons.append("REG : code région manquant")
    elif region is None:
        reasons.append(f"REG : code région inconnu « {region_code} »")
    elif region_of_department(department) not in (None, region_code):
        reasons.append(
            f"REG : le département « {department} » n'est pas dans la région {region} ({region_code})"
        )
    if kind == "commune" and _INSEE.match(code) and department and department_of_insee(code) != department:
        reasons.append(f"COM : le code INSEE « {code} » n'est pas dans le département « {department} »")

    population = parse_population(get("PTOT"))
    if population is None:
        text = get("PTOT")
        reasons.append(
            f"PTOT : population invalide « {text} » (entier positif attendu)"
            if text
            else "PTOT : population manquante"
        )

    email = get("EMAIL")
    if not email:
        reasons.append("EMAIL : adresse manquante")
    elif not is_email(email):
        reasons.append(f"EMAIL : adresse invalide « {email} »")

    members = [normalise_insee(m) for m in _MEMBER_SPLIT.split(get("MEMBERS")) if m]
    if members and kind != "epci":
        reasons.append("MEMBERS : seul un EPCI a des communes membres")
    bad_members = [m for m in members if not _INSEE.match(m)]
    if bad_members:
        reasons.append("MEMBERS : codes INSEE invalides " + ", ".join(f"« {m} »" for m in bad_members))

    tncc = get("TNCC")
    if tncc and not (tncc.isdigit() and 0 <= int(tncc) <= 8):
        reasons.append(
            f"TNCC : type de nom « {tncc} » invalide (0 à 8, code officiel géographique de l'INSEE)"
        )

    if reasons:
        raise RowRejected(reasons)
    payload = {
        "insee_code": code,
        "name": name,
        "kind": kind,
        "population": population,
        "region": region,
        "department": department,
        "email": email,
    }
    if kind == "epci":
        payload["member_communes"] = members
    if tncc:
        payload["tncc"] = int(tncc)  # which article the name takes: "du Mans", "aux Lilas"
    return payload


def open_rows(fh):
    """Stream (line number in the file, row dict) from an open text file.

    The line number is the file's physical line where the row ends (the header
    is line 1), so a user finds it in an editor; blank lines are skipped."""
    header = fh.readline()
    delimiter = sniff_delimiter(header)
    names = check_header(next(csv.reader([header], delimiter=delimiter)))
    reader = csv.reader(fh, delimiter=delimiter)

    def rows():
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            yield reader.line_num + 1, dict(zip(names, values, strict=False))

    return rows()


def count_lines(path, chunk=1 << 20):
    """Data lines in the file (for the progress bar), counted in binary chunks."""
    lines, last = 0, b"\n"
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)
