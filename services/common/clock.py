"""Time in one place: aware UTC datetimes, ISO 8601 text for payloads."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """pymongo hands back naive UTC datetimes unless the client is tz_aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def isoformat(moment: datetime) -> str:
    return as_utc(moment).isoformat()


def parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time zone is required")
    return moment
