"""Time in one place: aware UTC datetimes, ISO 8601 text for payloads."""
from datetime import datetime, timezone


def utcnow():
    return datetime.now(timezone.utc)


def isoformat(moment):
    if moment.tzinfo is None:  # pymongo may hand back naive UTC datetimes
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.isoformat()


def parse(text):
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a time zone is required")
    return moment
