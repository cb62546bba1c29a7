"""Domain errors that cross RPC boundaries.

Registered with nameko's `deserialize_to_instance`, so an RPC caller (the
gateway) gets the same exception class back, with its arguments, and can map
it to the HTTP status of API.md. Arguments must stay JSON-serialisable.
"""

import logging

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


class RefusalLogFilter(logging.Filter):
    """For nameko's worker log (deploy/config.yaml): an entrypoint that raised
    a DomainError refused a request as the rules say (no task left to claim,
    a field rejected); one INFO line, not an ERROR with its traceback. At the
    end of a national review, every claim answers "no task"."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, DomainError) or not isinstance(record.args, tuple) or not record.args:
            return True  # not nameko's "error handling worker <worker>" with a refusal
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info = record.exc_text = None
        # The code only: a message may quote what the user sent (an address).
        record.msg, record.args = "refused %s: %s", (record.args[0], error.code)
        return logging.getLogger(record.name).isEnabledFor(logging.INFO)
