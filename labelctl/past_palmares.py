"""`labelctl palmares import FILE`: a past palmarès (the label's history before
the system ran) read from a CSV, each bad line reported by its number.

Columns (any order, any case, `;` or `,`): annee, code (INSEE or SIREN), nom,
arobases (1 to 5), and optionally mentions (separated by « | »).
"""

import csv
import re

from labelctl.rows import normalise_insee, sniff_delimiter

REQUIRED = ("annee", "code", "nom", "arobases")
_CODE = re.compile(r"^(?:[0-9][0-9AB][0-9]{3}|[0-9]{9})$")


def _column(name):
    return name.strip().lower().replace("é", "e")


def parse_past_palmares(fh):
    """(rows for POST /api/v1/palmares/history, [(line, [reasons])] rejected)."""
    header = fh.readline()
    delimiter = sniff_delimiter(header)
    names = [_column(n) for n in next(csv.reader([header], delimiter=delimiter))]
    missing = [col for col in REQUIRED if col not in names]
    if missing:
        raise ValueError(
            "colonnes manquantes : " + ", ".join(missing) + " (attendu : " + ", ".join(REQUIRED) + ")"
        )
    reader = csv.reader(fh, delimiter=delimiter)
    rows, rejected = [], []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        line = reader.line_num + 1
        row = {name: value.strip() for name, value in zip(names, values, strict=False)}
        reasons = []
        year = row.get("annee", "")
        if not (year.isdigit() and 1999 <= int(year) <= 2999):
            reasons.append(f"annee : année invalide « {year} »")
        code = normalise_insee(row.get("code", ""))
        if not _CODE.match(code):
            reasons.append(f"code : code INSEE ou SIREN invalide « {row.get('code', '')} »")
        level = row.get("arobases", "").replace("@", "").strip()
        if not (level.isdigit() and 1 <= int(level) <= 5):
            reasons.append(f"arobases : de 1 à 5 attendu, pas « {row.get('arobases', '')} »")
        if reasons:
            rejected.append((line, reasons))
            continue
        mentions = [m.strip() for m in row.get("mentions", "").split("|") if m.strip()]
        rows.append(
            {
                "year": int(year),
                "code": code,
                "name": row.get("nom", ""),
                "arobases": int(level),
                "mentions": mentions,
            }
        )
    return rows, rejected
