"""An event no consumer can handle ends in the dead-letter queue, where an
organiser sees it (API and labelctl) and can replay it; nothing is dropped."""

import uuid

from click.testing import CliRunner
from kombu import Connection

from labelctl.main import cli
from tests.support.api import ok, poll


def test_a_poisoned_event_is_dead_lettered_listed_and_replayed(stack):
    event_id = f"poison:{uuid.uuid4().hex}"
    broken = {
        "event_id": event_id,
        "event": "application_withdrawn",
        "occurred_at": "2026-01-01T00:00:00+00:00",
        "application_id": "x",
    }  # campaign_year and collectivite missing: breaks the contract
    with Connection(stack.amqp_uri) as connection:
        connection.Producer().publish(
            broken,
            exchange="submissions.events",
            routing_key="application_withdrawn",
            serializer="json",
            delivery_mode=2,
        )

    def ours():
        letters = ok(stack.http("GET", "/api/v1/dead-letters", token=stack.admin_token))
        return [letter for letter in letters if letter["payload"].get("event_id") == event_id]

    letters = poll(ours, lambda found: len(found) == 3)  # jury, awards and notifications consume it
    assert {letter["consumer"] for letter in letters} == {"jury", "awards", "notifications"}
    assert all("invalid payload" in letter["error"] for letter in letters)
    assert stack.http("GET", "/api/v1/dead-letters").status_code == 401

    env = {"LABEL_API_URL": stack.base_url, "LABEL_TOKEN": stack.admin_token}
    listed = CliRunner().invoke(cli, ["dead-letters", "list"], env=env)
    assert listed.exit_code == 0 and "application_withdrawn → jury.on_application_withdrawn" in listed.output

    replayed = CliRunner().invoke(cli, ["dead-letters", "replay"], env=env)
    assert replayed.exit_code == 0 and "republié" in replayed.output
    # Each went back to the one handler that failed it, which (still unable to
    # use it) dead-letters it again: never dropped, never multiplied.
    again = poll(
        ours,
        lambda found: (
            len(found) == 3
            and {f["failed_at"] for f in found}.isdisjoint({letter["failed_at"] for letter in letters})
        ),
    )
    assert sorted(f["consumer"] for f in again) == ["awards", "jury", "notifications"]
