"""marshmallow helpers shared by every service, and marshmallow's own
messages in French (they reach the users: the API's `fields`, the pages)."""

from collections.abc import Iterator
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.common.errors import ValidationFailed

# marshmallow's default messages, in French, for every schema of every service.
FIELD_MESSAGES: dict[type[fields.Field], dict[str, str]] = {
    fields.Field: {
        "required": "Champ obligatoire.",
        "null": "Ce champ ne peut pas être vide (null).",
        "validator_failed": "Valeur invalide.",
    },
    fields.String: {"invalid": "Texte attendu.", "invalid_utf8": "Texte UTF-8 invalide."},
    fields.Integer: {"invalid": "Nombre entier attendu."},
    fields.Number: {"invalid": "Nombre attendu.", "too_large": "Nombre trop grand."},
    fields.Float: {"special": "Les valeurs numériques spéciales (nan, infini) ne sont pas acceptées."},
    fields.Boolean: {"invalid": "Booléen attendu (true ou false)."},
    fields.List: {"invalid": "Liste attendue."},
    fields.Mapping: {"invalid": "Objet attendu (clés et valeurs)."},
    fields.Dict: {"invalid": "Objet attendu (clés et valeurs)."},
    fields.Nested: {"type": "Objet attendu."},
    fields.Email: {"invalid": "Adresse électronique invalide."},
    fields.Url: {"invalid": "Adresse web invalide."},
    fields.DateTime: {
        "invalid": "Date et heure invalides (ISO 8601, par exemple 2027-01-15T18:00:00+01:00).",
        "invalid_awareness": "Précisez le fuseau horaire de cette date (par exemple +01:00).",
        "format": "« {input} » ne peut pas être écrit comme une date.",
    },
}
FIELD_MESSAGES[fields.AwareDateTime] = FIELD_MESSAGES[fields.DateTime]
SCHEMA_MESSAGES = {"type": "Objet JSON attendu.", "unknown": "Champ inconnu."}


def use_french_messages() -> None:
    """Replace marshmallow's English defaults (idempotent)."""
    for cls, messages in FIELD_MESSAGES.items():
        cls.default_error_messages = dict(cls.default_error_messages, **messages)
    Schema._default_error_messages = dict(Schema._default_error_messages, **SCHEMA_MESSAGES)
    validate.Length.message_min = "Au moins {min} caractères ou éléments."
    validate.Length.message_max = "Au plus {max} caractères ou éléments."
    validate.Length.message_all = "Entre {min} et {max} caractères ou éléments."
    validate.Length.message_equal = "Exactement {equal} caractères ou éléments."
    validate.Range.message_min = "Doit être {min_op} {{min}}."
    validate.Range.message_max = "Doit être {max_op} {{max}}."
    validate.Range.message_all = "Doit être {min_op} {{min}} et {max_op} {{max}}."
    validate.Range.message_gte = "supérieur ou égal à"
    validate.Range.message_gt = "supérieur à"
    validate.Range.message_lte = "inférieur ou égal à"
    validate.Range.message_lt = "inférieur à"
    validate.OneOf.default_message = "Valeur attendue parmi : {choices}."
    validate.Regexp.default_message = "Format invalide."
    validate.Email.default_message = "Adresse électronique invalide."
    validate.URL.default_message = "Adresse web invalide."


use_french_messages()


def _unsafe_keys(value: object, path: str = "") -> Iterator[str]:
    """Yield the dotted paths of keys that must never reach MongoDB."""
    if isinstance(value, dict):
        for key, item in value.items():
            key_text = str(key)
            where = f"{path}.{key_text}" if path else key_text
            if key_text.startswith("$") or "." in key_text:
                yield where
            else:
                yield from _unsafe_keys(item, where)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _unsafe_keys(item, f"{path}.{index}" if path else str(index))


class StrictSchema(Schema):
    """Rejects unknown fields and keys starting with `$` or containing `.`."""

    class Meta:
        unknown = RAISE

    @validates_schema(pass_original=True)
    def _reject_operator_keys(self, data: Any, original: object, **kwargs: Any) -> None:
        bad = list(_unsafe_keys(original))
        if bad:
            raise ValidationError(
                {key: ["Clé interdite (commence par « $ » ou contient « . »)."] for key in bad}
            )


def flatten_errors(messages: object, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict → {"a.b.0.c": ["reason", ...]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "_schema":
                name = prefix or "_schema"
            if isinstance(value, dict):
                flat.update(flatten_errors(value, name))
            else:
                flat.setdefault(name, []).extend(value if isinstance(value, list) else [str(value)])
    else:
        flat[prefix or "_schema"] = messages if isinstance(messages, list) else [str(messages)]
    return flat


NUL_MESSAGE = "Le caractère nul (U+0000) n'est pas accepté."


def nul_characters(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """The fields whose text (or key) holds a NUL character: no store keeps
    it (PostgreSQL's jsonb refuses it), so it is refused here, by name."""
    found: dict[str, list[str]] = {}
    if isinstance(data, str):
        if "\x00" in data:
            found[prefix or "_schema"] = [NUL_MESSAGE]
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if "\x00" in str(key):
                found[name.replace("\x00", "\\u0000")] = [NUL_MESSAGE]
            else:
                found.update(nul_characters(value, name))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found.update(nul_characters(value, f"{prefix}.{index}" if prefix else str(index)))
    return found


def load(schema: Schema, data: Any, **kwargs: Any) -> Any:
    """Validate `data` with `schema` or raise ValidationFailed naming the fields."""
    if not isinstance(data, dict) and not kwargs.get("many"):
        raise ValidationFailed({"_schema": ["Un objet JSON est attendu."]})
    nul = nul_characters(data)
    if nul:
        raise ValidationFailed(nul)
    try:
        return schema.load(data, **kwargs)
    except ValidationError as exc:
        raise ValidationFailed(flatten_errors(exc.messages)) from None
