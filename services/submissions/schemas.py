"""marshmallow schemas of the submissions RPC arguments (StrictSchema: unknown
fields and `$`/`.` keys are rejected). Checks that need the database or the
campaign's grid (known codes, ownership, dates) live in logic.py."""

import re

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from services.common.french import fold
from services.common.reference import REGION_NAMES
from services.common.validation import StrictSchema

CODE_RE = r"^[a-z0-9][a-z0-9_-]{0,63}$"
CODE_MESSAGE = "Code invalide : minuscules, chiffres, « - » ou « _ », 64 caractères au plus."
# Commune INSEE code: department (01-95 except 20, 2A/2B for Corsica) + 3 digits,
# or overseas 971-976 + 2 digits.
INSEE_RE = re.compile(r"^(?:(?:0[1-9]|1\d|[3-8]\d|9[0-5]|2[1-9]|2[AB])\d{3}|97[1-6]\d{2})$")
DEPARTMENT_RE = re.compile(r"^(?:0[1-9]|1\d|[3-8]\d|9[0-5]|2[1-9]|2[AB]|97[1-6])$")
SIREN_RE = re.compile(r"^\d{9}$")

REGIONS = REGION_NAMES


def _fold(text):
    return re.sub(r"[^a-z]+", "", fold(text))


_REGION_BY_FOLD = {_fold(name): name for name in REGIONS}
_REGION_BY_FOLD["reunion"] = "La Réunion"


def canonical_region(text):
    """The official name of a region written loosely ("Ile-de-France"), or None."""
    return _REGION_BY_FOLD.get(_fold(text or ""))


def luhn_ok(digits):
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def valid_siren(text):
    return bool(SIREN_RE.match(text or "")) and luhn_ok(text)


def valid_insee(text):
    return bool(INSEE_RE.match(text or ""))


def _text(max_length, required=True, **kwargs):
    return fields.String(required=required, validate=validate.Length(min=1, max=max_length), **kwargs)


# --- campaigns ---------------------------------------------------------------


class CodeLabelSchema(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(CODE_RE, error=CODE_MESSAGE))
    label = _text(200)


class EnjeuSchema(CodeLabelSchema):
    services = fields.List(
        fields.Nested(CodeLabelSchema), required=True, validate=validate.Length(min=1, max=100)
    )


class GridSchema(StrictSchema):
    enjeux = fields.List(fields.Nested(EnjeuSchema), required=True, validate=validate.Length(min=1, max=50))

    @validates_schema
    def _unique_codes(self, data, **kwargs):
        errors = {}
        enjeux, services = set(), set()
        for index, enjeu in enumerate(data.get("enjeux", [])):
            if enjeu["code"] in enjeux:
                errors[f"enjeux.{index}.code"] = ["Code d'enjeu en double."]
            enjeux.add(enjeu["code"])
            for position, service in enumerate(enjeu["services"]):
                if service["code"] in services:
                    errors[f"enjeux.{index}.services.{position}.code"] = ["Code de service en double."]
                services.add(service["code"])
        if errors:
            raise ValidationError(errors)


class CampaignSchema(StrictSchema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(2000, 2999))
    title = _text(200)
    submissions_open_at = fields.AwareDateTime(required=True)
    submissions_close_at = fields.AwareDateTime(required=True)
    ceremony_at = fields.AwareDateTime(required=True)
    ceremony_place = _text(200)
    reviews_per_application = fields.Integer(load_default=2, strict=True, validate=validate.Range(1, 10))
    village_max_population = fields.Integer(
        load_default=3500, strict=True, validate=validate.Range(1, 1_000_000)
    )
    grid = fields.Nested(GridSchema, load_default=None)
    mentions = fields.List(
        fields.Nested(CodeLabelSchema), load_default=None, validate=validate.Length(max=50)
    )

    @validates("mentions")
    def _unique_mentions(self, value, **kwargs):
        # marshmallow runs this even when an item failed (a mention without code): skip those
        codes = [
            mention["code"] for mention in value or [] if isinstance(mention, dict) and "code" in mention
        ]
        if len(codes) != len(set(codes)):
            raise ValidationError("Code de mention en double.")

    @validates_schema
    def _dates_in_order(self, data, **kwargs):
        opens, closes, ceremony = (
            data.get("submissions_open_at"),
            data.get("submissions_close_at"),
            data.get("ceremony_at"),
        )
        errors = {}
        if opens and closes and closes <= opens:
            errors["submissions_close_at"] = ["La clôture doit suivre l'ouverture des candidatures."]
        if closes and ceremony and ceremony < closes:
            errors["ceremony_at"] = ["La cérémonie ne peut précéder la clôture des candidatures."]
        if errors:
            raise ValidationError(errors)


# --- collectivités -----------------------------------------------------------


class CollectiviteSchema(StrictSchema):
    insee_code = fields.String(load_default=None, validate=validate.Length(max=9))
    siren = fields.String(load_default=None, validate=validate.Length(max=9))  # an EPCI may give it here
    name = _text(150)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["commune", "epci"], error="Attendu : « commune » ou « epci »."),
    )
    population = fields.Integer(required=True, strict=True, validate=validate.Range(1, 15_000_000))
    region = _text(60)
    department = fields.String(
        required=True,
        validate=validate.Regexp(DEPARTMENT_RE, error="Département inconnu : 01 à 95, 2A, 2B ou 971 à 976."),
    )
    email = fields.Email(
        required=True,
        validate=validate.Length(max=254),
        error_messages={"invalid": "Adresse électronique invalide."},
    )
    member_communes = fields.List(
        fields.String(validate=validate.Length(max=5)), load_default=list, validate=validate.Length(max=1000)
    )
    # INSEE's "type de nom en clair" (0-8): which article the name takes (services/common/placenames.py).
    tncc = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(0, 8, error="TNCC : de 0 à 8."),
    )

    @validates("region")
    def _known_region(self, value, **kwargs):
        if canonical_region(value) is None:
            raise ValidationError("Région inconnue : une des 18 régions françaises, par son nom.")

    @validates_schema(skip_on_field_errors=False)  # name every bad field at once
    def _codes(self, data, **kwargs):
        errors = {}
        kind = data.get("kind")
        code = data.get("insee_code")
        if kind == "epci":
            siren = data.get("siren") or code
            field = "siren" if data.get("siren") else "insee_code"
            if not siren:
                errors["insee_code"] = ["Le SIREN (9 chiffres) de l'EPCI est requis."]
            elif not valid_siren(siren):
                errors[field] = ["SIREN invalide : 9 chiffres avec une clé de contrôle correcte."]
            if code and data.get("siren") and code != data["siren"]:
                errors["insee_code"] = ["Pour un EPCI, le code est son SIREN."]
            members = data.get("member_communes") or []
            if not members:
                errors["member_communes"] = ["Un EPCI indique au moins une commune membre."]
            for index, member in enumerate(members):
                if not valid_insee(member):
                    errors[f"member_communes.{index}"] = ["Code INSEE de commune invalide."]
            if len(set(members)) != len(members):
                errors.setdefault("member_communes", []).append("Commune membre en double.")
        elif kind == "commune":
            if data.get("siren"):
                errors["siren"] = ["Une commune s'identifie par son code INSEE."]
            if not code:
                errors["insee_code"] = ["Le code INSEE de la commune est requis."]
            elif not valid_insee(code):
                errors["insee_code"] = ["Code INSEE invalide : 5 caractères (2A/2B pour la Corse)."]
            elif data.get("department") and not code.startswith(data["department"]):
                errors["insee_code"] = ["Le code INSEE ne correspond pas au département."]
            if data.get("member_communes"):
                errors["member_communes"] = ["Seul un EPCI a des communes membres."]
        if errors:
            raise ValidationError(errors)


# --- applications ------------------------------------------------------------


class ApplicationSearchSchema(StrictSchema):
    """The organisers' filters of a campaign's applications (empty: no filter)."""

    state = fields.String(load_default=None, validate=validate.OneOf(["", "draft", "submitted", "withdrawn"]))
    region = fields.String(load_default=None, validate=validate.Length(max=60))
    category = fields.String(
        load_default=None, validate=validate.OneOf(["", "ville", "village", "territoire"])
    )
    department = fields.String(load_default=None, validate=validate.Length(max=3))
    text = fields.String(load_default=None, validate=validate.Length(max=100))


class ApplicationSearchPage(StrictSchema):
    """Where a page of the organisers' list starts (logic.search_applications)."""

    after = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=120))
    start = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=3))


class InitiativeSchema(StrictSchema):
    title = _text(200)
    enjeu = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = _text(5000)
    url = fields.Url(
        load_default=None,
        allow_none=True,
        schemes={"http", "https"},
        validate=validate.Length(max=500),
        error_messages={"invalid": "Adresse web invalide."},
    )
    # Consent to show it in the public directory (Atlaas) after the release; off unless ticked.
    publish = fields.Boolean(load_default=False, error_messages={"invalid": "Indiquez oui ou non."})


class ApplicationCreateSchema(StrictSchema):
    campaign_year = fields.Integer(required=True, strict=True, validate=validate.Range(2000, 2999))
    services = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=500),
    )
    initiatives = fields.List(
        fields.Nested(InitiativeSchema), load_default=list, validate=validate.Length(max=200)
    )
    previous_arobases = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(1, 5)
    )


class ApplicationPatchSchema(StrictSchema):
    services = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=500)
    )
    initiatives = fields.List(fields.Nested(InitiativeSchema), validate=validate.Length(max=200))
    previous_arobases = fields.Integer(allow_none=True, strict=True, validate=validate.Range(1, 5))


class InitiativeSearchSchema(StrictSchema):
    """The directory's filters (empty: no filter) and its page."""

    q = fields.String(load_default="", validate=validate.Length(max=200))
    enjeu = fields.String(load_default="", validate=validate.Length(max=64))
    region = fields.String(load_default="", validate=validate.Length(max=60))
    band = fields.String(
        load_default="",
        validate=validate.OneOf(
            ["", "moins_3500", "3500_20000", "20000_100000", "plus_100000"],
            error="Tranche de population inconnue : moins_3500, 3500_20000, 20000_100000 ou plus_100000.",
        ),
    )
    year = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(2000, 2999))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = fields.String(
        load_default="",
        validate=validate.Regexp(r"^[0-9A-Za-z:]{0,80}$", error="Curseur invalide."),
    )
