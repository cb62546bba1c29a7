"""What every labelctl command shares: exit codes, API errors, dates, the Api of the context."""

import functools
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click

from labelctl.client import Api, ApiError

EXIT_API, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_PARTIAL = 1, 2, 3, 4
PARIS = ZoneInfo("Europe/Paris")


def fail(message, code=EXIT_API):
    click.echo(message, err=True)
    sys.exit(code)


def handle_api_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            fail(exc.french(), EXIT_UNREACHABLE if exc.status == 0 else EXIT_API)

    return wrapper


def echo_json(data):
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


_RELATIVE = re.compile(r"^(?:now|maintenant)?\s*([+-])\s*(\d+)\s*([smhdj])$")


def parse_when(text, now=None):
    """An ISO 8601 date (a naive one is Paris time), 'now', or relative '+10m', '-1h', '+3d'."""
    now = now or datetime.now(UTC)
    text = text.strip().lower()
    if text in ("now", "maintenant"):
        return now
    match = _RELATIVE.match(text)
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(
            **{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "j": "days"}[unit]: int(amount)}
        )
        return now + delta if sign == "+" else now - delta
    try:
        value = datetime.fromisoformat(text.upper() if "t" in text else text)
    except ValueError:
        raise click.BadParameter(f"date invalide « {text} » (ISO 8601, now, +10m, +2h, +3d)") from None
    return value if value.tzinfo else value.replace(tzinfo=PARIS)


class When(click.ParamType):
    name = "date"

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        return parse_when(value)


pass_api = click.make_pass_decorator(Api)
