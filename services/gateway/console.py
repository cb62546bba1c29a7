"""Pure helpers of the organisers' console: a campaign from last year's, the
changes of the grid and mentions side by side, Paris times in forms."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def paris_input(iso_text: str | None) -> str:
    """An ISO 8601 time → the value of an <input type="datetime-local"> in Paris time."""
    if not iso_text:
        return ""
    return datetime.fromisoformat(iso_text).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")


def from_paris_input(value: str) -> str | None:
    """The value of a datetime-local input (Paris time) → ISO 8601 with its zone; None if unreadable."""
    try:
        moment = datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M")
    except ValueError:
        return None
    return moment.replace(tzinfo=PARIS).isoformat()


def mentions_text(mentions: list[dict]) -> str:
    return "\n".join(f"{m['code']} | {m['label']}" for m in mentions)


def mentions_from_text(text: str) -> tuple[list[dict], list[str]]:
    """'code | libellé' lines → mentions; the lines that do not read, in French."""
    mentions, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        code, sep, label = line.partition("|")
        if not sep or not code.strip() or not label.strip():
            errors.append(f"Ligne {number} : attendu « code | libellé ».")
            continue
        mentions.append({"code": code.strip(), "label": label.strip()})
    return mentions, errors


def grid_from_text(text: str) -> tuple[dict | None, list[str]]:
    """A grid pasted as JSON ({"enjeux": [...]}); None when left empty (last year's is kept)."""
    if not text.strip():
        return None, []
    try:
        grid = json.loads(text)
    except ValueError as exc:
        return None, [f"JSON illisible : {exc.msg} (ligne {exc.lineno})."]
    if not isinstance(grid, dict) or not isinstance(grid.get("enjeux"), list):
        return None, ["Une grille est un objet JSON avec une liste « enjeux »."]
    return grid, []


def _services(grid: dict) -> dict[str, tuple[str, str]]:
    return {
        service["code"]: (enjeu["label"], service["label"])
        for enjeu in grid.get("enjeux", [])
        for service in enjeu.get("services", [])
    }


def grid_changes(old: dict, new: dict) -> dict:
    """What changes from last year's grid: enjeux and services added, removed, renamed."""
    old_enjeux = {e["code"]: e["label"] for e in old.get("enjeux", [])}
    new_enjeux = {e["code"]: e["label"] for e in new.get("enjeux", [])}
    old_services, new_services = _services(old), _services(new)
    return {
        "enjeux_added": sorted(new_enjeux[c] for c in new_enjeux.keys() - old_enjeux.keys()),
        "enjeux_removed": sorted(old_enjeux[c] for c in old_enjeux.keys() - new_enjeux.keys()),
        "services_added": sorted(new_services[c] for c in new_services.keys() - old_services.keys()),
        "services_removed": sorted(old_services[c] for c in old_services.keys() - new_services.keys()),
        "services_renamed": sorted(
            (old_services[c][1], new_services[c][1])
            for c in old_services.keys() & new_services.keys()
            if old_services[c][1] != new_services[c][1]
        ),
        "services_kept": len(old_services.keys() & new_services.keys()),
        "services_total": len(new_services),
    }


def mention_changes(old: list[dict], new: list[dict]) -> list[tuple[str, str]]:
    """Side by side (last year | this year), one row per mention code."""
    before = {m["code"]: m["label"] for m in old}
    after = {m["code"]: m["label"] for m in new}
    codes = list(before) + [code for code in after if code not in before]
    return [(before.get(code, "—"), after.get(code, "—")) for code in codes]
