"""HTML forms → the API's payloads, and the API's error keys → form fields.

Pure functions: the services validate what these build (one set of rules);
these only read what a browser sends and name what is missing, in French.
"""

import re

from services.common.reference import is_email

NOT_APPLICABLE = "na"


def field_id(error_key: str) -> str:
    """'initiatives.3.title' → 'initiatives-3-title' (the id of its input)."""
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", error_key)


def form_errors(fields: dict, same_input: dict | None = None) -> dict:
    """The API's {"a.b": [reasons]} keyed by input id, each reason once.
    `same_input` maps an error key's first part to the field that shows it
    ("member_communes.3" → the member_communes box, "siren" → the code box)."""
    errors: dict[str, list[str]] = {}
    for key, reasons in (fields or {}).items():
        head = key.split(".")[0]
        target = errors.setdefault(field_id((same_input or {}).get(head, key)), [])
        target.extend(reason for reason in reasons if reason not in target)
    return errors


def _text(form, name: str) -> str:
    return (form.get(name) or "").strip()


def email_from_form(form) -> tuple[str, dict]:
    email = _text(form, "email")
    if not email:
        return email, {field_id("email"): ["Indiquez votre adresse électronique."]}
    if len(email) > 254 or not is_email(email):
        return email, {field_id("email"): ["Adresse électronique invalide (exemple : mairie@commune.fr)."]}
    return email, {}


def collectivite_from_form(form) -> tuple[dict, dict]:
    """The sign-up form → the body of POST /api/v1/collectivites."""
    errors: dict[str, list[str]] = {}
    data: dict = {
        "kind": _text(form, "kind"),
        "insee_code": _text(form, "insee_code").upper() or None,
        "name": _text(form, "name"),
        "region": _text(form, "region"),
        "department": _text(form, "department").upper(),
        "email": _text(form, "email"),
        "member_communes": [
            code.upper() for code in re.split(r"[\s,;]+", _text(form, "member_communes")) if code
        ],
    }
    population = _text(form, "population").replace(" ", "").replace("\u202f", "").replace("\xa0", "")
    if not population:
        errors[field_id("population")] = ["Indiquez la population (nombre d'habitants)."]
    elif not population.isdigit():
        errors[field_id("population")] = ["La population est un nombre entier d'habitants."]
    else:
        data["population"] = int(population)
    if data["kind"] not in ("commune", "epci"):
        errors[field_id("kind")] = ["Choisissez « commune » ou « EPCI »."]
    return data, errors


def application_from_form(form, grid: dict) -> dict:
    """The application form → the body of POST/PATCH /api/v1/applications.

    Initiatives already listed come back as `initiatives-<i>-<field>` (with a
    `remove` box); each enjeu has one blank `new-<enjeu>-<field>` row, kept
    when its title or description is filled in.
    """
    known_services = {service["code"] for enjeu in grid["enjeux"] for service in enjeu["services"]}
    services = [code for code in form.getlist("services") if code in known_services]
    initiatives = []
    count = int(_text(form, "initiative_count") or 0) if _text(form, "initiative_count").isdigit() else 0
    for index in range(min(count, 500)):
        prefix = f"initiatives-{index}-"
        if form.get(prefix + "remove"):
            continue
        initiatives.append(_initiative(form, prefix, _text(form, prefix + "enjeu")))
    for enjeu in grid["enjeux"]:
        prefix = f"new-{enjeu['code']}-"
        if _text(form, prefix + "title") or _text(form, prefix + "description"):
            initiatives.append(_initiative(form, prefix, enjeu["code"]))
    return {"services": list(dict.fromkeys(services)), "initiatives": initiatives}


def _initiative(form, prefix: str, enjeu: str) -> dict:
    return {
        "title": _text(form, prefix + "title"),
        "enjeu": enjeu,
        "description": _text(form, prefix + "description"),
        "url": _text(form, prefix + "url") or None,
        # Consent to the public directory after the release: an unticked box says no.
        "publish": form.get(prefix + "publish") == "1",
    }


def review_from_form(form, enjeux: list[str], mentions: list[str]) -> tuple[dict, dict]:
    """The review form → the body of POST /api/v1/review-tasks/{id}/review.
    Each enjeu needs a score 0–4 or "non applicable" (None)."""
    errors: dict[str, list[str]] = {}
    scores: dict[str, int | None] = {}
    for code in enjeux:
        value = _text(form, f"score-{code}")
        if value == NOT_APPLICABLE:
            scores[code] = None
        elif value in ("0", "1", "2", "3", "4"):
            scores[code] = int(value)
        else:
            errors[field_id(f"scores.{code}")] = ["Choisissez une note de 0 à 4, ou « non applicable »."]
    data: dict = {
        "scores": scores,
        "mentions": [code for code in form.getlist("mentions") if code in mentions],
        "comment": _text(form, "comment"),
    }
    arobases = _text(form, "arobases")
    if arobases in ("1", "2", "3", "4", "5"):
        data["arobases"] = int(arobases)
    else:
        errors[field_id("arobases")] = ["Proposez un nombre d'arobases, de 1 à 5."]
    return data, errors
