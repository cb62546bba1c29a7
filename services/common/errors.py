"""Domain errors that cross RPC boundaries.

Registered with nameko's `deserialize_to_instance`, so an RPC caller (the
gateway) gets the same exception class back, with its arguments, and can map
it to the HTTP status of API.md. Arguments must stay JSON-serialisable.
"""

from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str = "", code: str | None = None) -> None:
        super().__init__(message, code or self.code)
        self.message = message
        if code:
            self.code = code


@deserialize_to_instance
class ValidationFailed(DomainError):
    """Input rejected; `fields` maps each bad field to its reasons (French)."""

    code = "validation_failed"

    def __init__(
        self,
        fields: dict[str, list[str]],
        message: str = "Les données envoyées ne sont pas valides.",
        code: str | None = None,
    ) -> None:
        Exception.__init__(self, fields, message, code or self.code)
        self.fields = fields
        self.message = message
        self.code = code or self.code


@deserialize_to_instance
class NotFound(DomainError):
    code = "not_found"


@deserialize_to_instance
class Conflict(DomainError):
    """A state conflict: already claimed, already submitted, deadline passed, embargo."""

    code = "conflict"


@deserialize_to_instance
class Forbidden(DomainError):
    code = "forbidden"
