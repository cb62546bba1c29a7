"""The palmarès: one line per labelled collectivité, its statistics, its CSV.

Pure functions over plain dicts, unit-tested against hand-computed tables.
"""

import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.common.french import PROGRESSION_LABELS, sort_key
from services.common.types import Doc

CATEGORIES = ("ville", "village", "territoire")
# Statistics stored by releases before by_category took the API's category values.
_OLD_CATEGORY_KEYS = {"villes": "ville", "villages": "village", "territoires": "territoire"}


PROGRESSIONS = ("new", "kept", "gained", "lost", "back")


# Fields of a collectivité that may appear on a public page (never its email).
PUBLIC_COLLECTIVITE_FIELDS = (
    "id",
    "insee_code",
    "name",
    "kind",
    "category",
    "department",
    "region",
    "population",
)


def last_label(history: Mapping[int, int], year: int) -> tuple[int, int] | None:
    """(year, arobases) of the collectivité's last label before `year`, if any."""
    earlier = [y for y in history if y < year]
    return (max(earlier), history[max(earlier)]) if earlier else None


def progression(arobases: int, previous_arobases: int | None, years_absent: int = 0) -> str:
    """new (never labelled), back (labelled before, absent the year before),
    else gained / lost / kept against the last label."""
    if previous_arobases is None:
        return "new"
    if years_absent > 0:
        return "back"
    if arobases > previous_arobases:
        return "gained"
    if arobases < previous_arobases:
        return "lost"
    return "kept"


# Fields whose few values repeat over a campaign: one copy of each held (a
# national draft holds 35,000 lines).
REPEATED_COLLECTIVITE_FIELDS = ("kind", "category", "department", "region")


def public_collectivite(collectivite: Doc) -> Doc:
    public = {key: collectivite.get(key) for key in PUBLIC_COLLECTIVITE_FIELDS}
    for key in REPEATED_COLLECTIVITE_FIELDS:
        value = public[key]
        if isinstance(value, str):
            public[key] = sys.intern(value)
    return public


def palmares_line(app: Doc, outcome: Doc, mention_labels: Mapping[str, str]) -> Doc:
    """A labelled application's palmarès line before its progression (`with_progression`):
    the public fields only, so that a national draft holds these lines and no
    application document. `previous_arobases` is the level the applicant
    declared until the label's history replaces it."""
    collectivite = public_collectivite(app["collectivite"])
    return {
        "application_id": app["_id"],
        "collectivite": collectivite,
        "category": collectivite["category"],
        "region": collectivite["region"],
        "member_communes": list(app["collectivite"].get("member_communes") or []),
        "arobases": outcome["arobases"],
        "mentions": [{"code": code, "label": mention_labels.get(code, code)} for code in outcome["mentions"]],
        "progression": None,
        "previous_arobases": app.get("declared_previous_arobases"),
        "previous_year": None,
        "previous_declared": False,
    }


def with_progression(
    lines: list[Doc], history_by_code: Mapping[str, Mapping[int, int]], year: int = 0
) -> list[Doc]:
    """`lines` (palmares_line) given their progression against each one's last
    label before `year`, however long ago, in place; sorted by region then
    name (the palmarès is not a ranking)."""
    for line in lines:
        last = last_label(history_by_code.get(line["collectivite"]["insee_code"], {}), year)
        if last:
            line["previous_year"], line["previous_arobases"] = last
        # No history: the level the applicant declared, marked as declared.
        line["previous_declared"] = last is None and line["previous_arobases"] is not None
        absent = year - line["previous_year"] - 1 if line["previous_year"] else 0
        line["progression"] = progression(line["arobases"], line["previous_arobases"], absent)
    lines.sort(key=lambda e: (e["region"], e["collectivite"]["name"], e["collectivite"]["insee_code"]))
    return lines


def statistics(entries: Sequence[Doc]) -> Doc:
    """Counts by arobases, category and region, the communes the labelled
    territoires group (distinct INSEE codes), mentions and progression."""
    by_arobases = {str(level): 0 for level in range(1, 6)}
    by_category = {category: 0 for category in CATEGORIES}
    regions: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    progressions = {key: 0 for key in PROGRESSIONS}
    communes: set[str] = set()
    for entry in entries:
        by_arobases[str(entry["arobases"])] += 1
        by_category[entry["category"]] += 1
        regions[entry["region"]] += 1
        progressions[entry["progression"]] += 1
        for mention in entry["mentions"]:
            mentions[mention["code"]] += 1
        if entry["category"] == "territoire":
            communes.update(entry.get("member_communes") or ())
    by_region = dict(sorted(regions.items(), key=lambda item: (-item[1], sort_key(item[0]))))
    return {
        "labelled_count": len(entries),
        "by_arobases": by_arobases,
        "by_category": by_category,
        "by_region": by_region,
        "territoires_communes": len(communes),
        "by_mention": dict(sorted(mentions.items())),
        "progression": progressions,
    }


def current_shape(stats: Doc) -> Doc:
    """Statistics as the API shows them now, whatever release stored them:
    by_category keyed ville / village / territoire, territoires_communes beside it."""
    by_category = {_OLD_CATEGORY_KEYS.get(key, key): n for key, n in stats.get("by_category", {}).items()}
    communes = by_category.pop("territoires_communes", stats.get("territoires_communes", 0))
    return dict(stats, by_category=by_category, territoires_communes=communes)


# Stored with a palmarès line, never public: the feedback is its collectivité's alone.
PRIVATE_ENTRY_FIELDS = ("member_communes", "feedback")


def public_entry(entry: Doc) -> Doc:
    return {key: value for key, value in entry.items() if key not in PRIVATE_ENTRY_FIELDS}


CSV_HEADER = [
    "annee",
    "code_insee",
    "collectivite",
    "categorie",
    "region",
    "departement",
    "arobases",
    "mentions",
    "progression",
    "arobases_precedentes",
]


def chunk_csv_rows(year: int, index: int, entries: Iterable[Doc]) -> list[list[Any]]:
    """A palmarès' chunk `index` as CSV rows, the header with the first
    chunk's: the chunks' rows, one after the other, are the whole palmarès'."""
    lines = csv_lines(year, entries)
    return [CSV_HEADER, *lines] if index == 0 else lines


def csv_lines(year: int, entries: Iterable[Doc]) -> list[list[Any]]:
    """The CSV rows of these palmarès lines, header apart."""
    rows = []
    for entry in entries:
        collectivite = entry["collectivite"]
        rows.append(
            [
                year,
                collectivite["insee_code"],
                collectivite["name"],
                entry["category"],
                entry["region"],
                collectivite.get("department") or "",
                entry["arobases"],
                " | ".join(m["label"] for m in entry["mentions"]),
                PROGRESSION_LABELS.get(entry["progression"], str(entry["progression"])).lower(),
                "" if entry["previous_arobases"] is None else entry["previous_arobases"],
            ]
        )
    return rows
