"""The baromètre, the Atlaas directory and the pré-diagnostic (issue 16): pure
computation over a released campaign's submitted applications.

`compute(campaign, applications)` makes the baromètre document and the
directory's entries once, at the release; the views below only read them.
No aggregate over fewer than MIN_GROUP collectivités is ever shown, so that
no single collectivité can be recognised.
"""

import functools
import re
from collections import Counter
from collections.abc import Iterable

import snowballstemmer

from services.common.french import fold
from services.common.types import Doc

MIN_GROUP = 5
TOP_SERVICES = 10
# Population bands of the baromètre: (code, label, lower bound included).
BANDS = (
    ("moins_3500", "Moins de 3 500 habitants", 0),
    ("3500_20000", "De 3 500 à 20 000 habitants", 3500),
    ("20000_100000", "De 20 000 à 100 000 habitants", 20000),
    ("plus_100000", "Plus de 100 000 habitants", 100000),
)
BAND_LABELS = {code: label for code, label, _ in BANDS}
CATEGORIES = (("ville", "Villes"), ("village", "Villages"), ("territoire", "Territoires"))

_stemmer = snowballstemmer.stemmer("french")
_WORD = re.compile(r"[a-z0-9]+")
# Words too common to narrow a search (folded, before stemming).
_STOP = frozenset(
    "a au aux avec ce ces dans de des du en et la le les leur leurs l d un une par pour sur qui que "
    "ou son sa ses se est sont nos notre vos votre".split()
)


def band_of(population: int) -> str:
    code = BANDS[0][0]
    for band, _, lower in BANDS:
        if population >= lower:
            code = band
    return code


def terms(text: str) -> list[str]:
    """Search terms: accents and case folded, then the French Snowball stem
    (folding first, so that « accès » and « acces » meet)."""
    words = [w for w in _WORD.findall(fold(text)) if w not in _STOP]
    return list(dict.fromkeys(_stem(w) for w in words))


@functools.lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    # Snowball in pure Python costs ~0.2 ms a word; a campaign's vocabulary repeats.
    return _stemmer.stemWord(word)


def _share(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _mean(total: int, count: int) -> float:
    return round(total / count, 1) if count else 0.0


def compute(campaign: Doc, applications: Iterable[Doc], released_at: str) -> tuple[Doc, list[Doc]]:
    """(the baromètre document, the directory's entries) of a released campaign.
    `applications`: its submitted applications only (the caller never passes a draft)."""
    year = campaign["year"]
    enjeux = campaign["grid"]["enjeux"]
    enjeu_of = {s["code"]: e["code"] for e in enjeux for s in e["services"]}
    enjeu_label = {e["code"]: e["label"] for e in enjeux}
    by_enjeu: Counter[str] = Counter()
    by_service: Counter[str] = Counter()
    # group key → [collectivités, services ticked]
    sums: dict[str, list[int]] = {}
    groups: dict[str, Doc] = {}
    regions: dict[str, list[int]] = {}
    entries = []
    count = 0
    for app in applications:
        count += 1
        col = app["collectivite"]
        band = band_of(col["population"])
        ticked = [code for code in app["services"] if code in enjeu_of]
        by_service.update(ticked)
        for key in (f"band:{band}", f"category:{col['category']}"):
            acc = sums.setdefault(key, [0, 0])
            acc[0] += 1
            acc[1] += len(ticked)
        region = regions.setdefault(col["region"], [0, 0, 0])
        region[0] += 1
        region[1] += len(ticked)
        group = groups.setdefault(
            f"{band}:{col['category']}", {"collectivites": 0, "services": {}, "enjeux": {}}
        )
        group["collectivites"] += 1
        for code in ticked:
            group["services"][code] = group["services"].get(code, 0) + 1
            group["enjeux"][enjeu_of[code]] = group["enjeux"].get(enjeu_of[code], 0) + 1
        for index, initiative in enumerate(app["initiatives"]):
            by_enjeu[initiative["enjeu"]] += 1
            region[2] += 1
            if initiative.get("publish"):
                entries.append(_entry(year, app, index, initiative, band, enjeu_label))
    initiatives = sum(by_enjeu.values())
    document = {
        "_id": str(year),
        "year": year,
        "released_at": released_at,
        "applications": count,
        "initiatives": initiatives,
        "enjeux": [
            {
                "code": e["code"],
                "label": e["label"],
                "initiatives": by_enjeu[e["code"]],
                "share": _share(by_enjeu[e["code"]], initiatives),
            }
            for e in enjeux
        ],
        "services": [
            {
                "code": s["code"],
                "label": s["label"],
                "enjeu": e["code"],
                "collectivites": by_service[s["code"]],
                "share": _share(by_service[s["code"]], count),
            }
            for e in enjeux
            for s in e["services"]
        ],
        "bands": [_mean_row(code, label, sums.get(f"band:{code}")) for code, label, _ in BANDS],
        "categories": [_mean_row(code, label, sums.get(f"category:{code}")) for code, label in CATEGORIES],
        "regions": [
            dict(
                _mean_row(name, name, [n, ticked]), initiatives=initiatives_count if n >= MIN_GROUP else None
            )
            for name, (n, ticked, initiatives_count) in sorted(
                regions.items(), key=lambda item: fold(item[0])
            )
        ],
        "groups": groups,
        "published_initiatives": len(entries),
    }
    return document, entries


def _mean_row(code: str, label: str, acc: list[int] | None) -> Doc:
    n, ticked = acc or (0, 0)
    withheld = n < MIN_GROUP
    return {
        "code": code,
        "label": label,
        "collectivites": None if withheld else n,
        "mean_services": None if withheld else _mean(ticked, n),
        "withheld": withheld,
    }


def _entry(year: int, app: Doc, index: int, initiative: Doc, band: str, enjeu_label: dict) -> Doc:
    col = app["collectivite"]
    return {
        # Sorted by _id, newest campaign first: the cursor is the last _id seen.
        "_id": f"{year}:{col['id']}:{index:03d}",
        "year": year,
        "title": initiative["title"],
        "description": initiative["description"],
        "url": initiative.get("url"),
        "enjeu": initiative["enjeu"],
        "enjeu_label": enjeu_label.get(initiative["enjeu"], initiative["enjeu"]),
        "band": band,
        "region": col["region"],
        "collectivite": {
            "id": col["id"],
            "insee_code": col["insee_code"],
            "name": col["name"],
            "department": col["department"],
            "category": col["category"],
        },
        "terms": terms(f"{initiative['title']} {initiative['description']}"),
    }


def public_view(document: Doc, previous: Doc | None = None) -> Doc:
    """What anyone reads: no group under MIN_GROUP collectivités, the per-group
    counts kept for the pré-diagnostic left out; year-on-year change, in points,
    of each share whose code exists in both years."""
    withheld = document["applications"] < MIN_GROUP
    before_enjeux = {row["code"]: row["share"] for row in (previous or {}).get("enjeux", [])}
    before_services = {row["code"]: row["share"] for row in (previous or {}).get("services", [])}

    def change(row: Doc, before: dict) -> Doc:
        old = before.get(row["code"])
        return dict(row, change=None if old is None else round(row["share"] - old, 1))

    services = [] if withheld else [change(row, before_services) for row in document["services"]]
    ranked = sorted(services, key=lambda row: (-row["share"], row["code"]))
    return {
        "year": document["year"],
        "released_at": document["released_at"],
        "previous_year": previous["year"] if previous else None,
        "applications": document["applications"],
        "initiatives": None if withheld else document["initiatives"],
        "withheld": withheld,
        "min_group": MIN_GROUP,
        "enjeux": [] if withheld else [change(row, before_enjeux) for row in document["enjeux"]],
        "services": services,
        "most_adopted": ranked[:TOP_SERVICES],
        "least_adopted": list(reversed(ranked[-TOP_SERVICES:])) if ranked else [],
        "bands": document["bands"],
        "categories": document["categories"],
        "regions": document["regions"],
        "published_initiatives": document["published_initiatives"],
    }


def prediagnostic(application: Doc, grid: Doc, document: Doc) -> Doc:
    """A collectivité's application against the collectivités of its population
    band and category in a released baromètre; withheld under MIN_GROUP of them."""
    col = application["collectivite"]
    band = band_of(col["population"])
    group = document["groups"].get(f"{band}:{col['category']}") or {"collectivites": 0}
    result: Doc = {
        "application_id": application["_id"],
        "campaign_year": application["campaign_year"],
        "reference_year": document["year"],
        "band": band,
        "band_label": BAND_LABELS[band],
        "category": col["category"],
        "min_group": MIN_GROUP,
        "withheld": group["collectivites"] < MIN_GROUP,
    }
    if result["withheld"]:
        return result
    n = group["collectivites"]
    offered = set(application["services"])
    services = []
    for enjeu in grid["enjeux"]:
        for service in enjeu["services"]:
            if any(row["code"] == service["code"] for row in document["services"]):
                count = group["services"].get(service["code"], 0)
                services.append(
                    {
                        "code": service["code"],
                        "label": service["label"],
                        "enjeu": enjeu["code"],
                        "share": _share(count, n),
                        "offered": service["code"] in offered,
                    }
                )
    missing = sorted((s for s in services if not s["offered"]), key=lambda s: (-s["share"], s["code"]))
    enjeux = []
    for enjeu in grid["enjeux"]:
        own = sum(1 for s in enjeu["services"] if s["code"] in offered)
        peers = _mean(group["enjeux"].get(enjeu["code"], 0), n)
        enjeux.append(
            {
                "code": enjeu["code"],
                "label": enjeu["label"],
                "services": own,
                "peers_mean": peers,
                "position": (
                    "au-dessus" if own >= peers + 0.5 else "en dessous" if own <= peers - 0.5 else "au niveau"
                ),
            }
        )
    result.update(collectivites=n, services=services, suggestions=missing[:TOP_SERVICES], enjeux=enjeux)
    return result
