"""marshmallow helpers shared by every service."""

from collections.abc import Iterator
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, validates_schema

from services.common.errors import ValidationFailed


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


def load(schema: Schema, data: Any, **kwargs: Any) -> Any:
    """Validate `data` with `schema` or raise ValidationFailed naming the fields."""
    if not isinstance(data, dict) and not kwargs.get("many"):
        raise ValidationFailed({"_schema": ["Un objet JSON est attendu."]})
    try:
        return schema.load(data, **kwargs)
    except ValidationError as exc:
        raise ValidationFailed(flatten_errors(exc.messages)) from None
