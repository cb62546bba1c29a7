from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer
from marshmallow import fields

from services.common import contracts, tokens
from services.common.errors import ValidationFailed
from services.common.validation import StrictSchema, flatten_errors, load


class Sample(StrictSchema):
    name = fields.String(required=True)
    tags = fields.Dict(keys=fields.String(), values=fields.Integer())


def test_operator_and_dotted_keys_are_refused_with_their_path():
    with pytest.raises(ValidationFailed) as caught:
        load(Sample(), {"name": "Agen", "tags": {"$gt": 1, "a.b": 2, "ok": 3}})
    assert set(caught.value.fields) >= {"tags.$gt", "tags.a.b"}
    assert "ok" not in "".join(caught.value.fields)


def test_a_nul_character_is_refused_by_its_field_before_the_schema_runs():
    """PostgreSQL's jsonb stores no U+0000: a campaign titled with one was a 500."""
    with pytest.raises(ValidationFailed) as caught:
        load(Sample(), {"name": "Ag\x00en", "tags": {"a\x00": 1, "ok": 2}, "notes": ["x", "\x00"]})
    assert caught.value.fields == {
        "name": ["Le caractère nul (U+0000) n'est pas accepté."],
        "tags.a\\u0000": ["Le caractère nul (U+0000) n'est pas accepté."],
        "notes.1": ["Le caractère nul (U+0000) n'est pas accepté."],
    }


def test_unknown_and_missing_fields_are_named():
    with pytest.raises(ValidationFailed) as caught:
        load(Sample(), {"surname": "x"})
    assert set(caught.value.fields) == {"name", "surname"}


def test_a_non_object_is_refused():
    with pytest.raises(ValidationFailed) as caught:
        load(Sample(), ["Agen"])
    assert "_schema" in caught.value.fields


def test_flatten_errors_keeps_nested_paths():
    assert flatten_errors({"a": {"0": {"b": ["bad"]}}, "c": ["x"]}) == {"a.0.b": ["bad"], "c": ["x"]}


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_tokens_round_trip_and_reject_forgery():
    token = tokens.issue("secret", "collectivite", "c-42", NOW, timedelta(days=90))
    found = tokens.verify("secret", token, NOW)
    assert (found.role, found.subject, found.expires_at) == ("collectivite", "c-42", NOW + timedelta(days=90))
    assert (
        found.token_id
        and found.token_id
        != tokens.verify(
            "secret", tokens.issue("secret", "collectivite", "c-42", NOW, timedelta(days=90)), NOW
        ).token_id
    )  # each token its own id: revoked one by one
    assert tokens.verify("another-secret", token, NOW) is None
    assert tokens.verify("secret", token[:-2] + "xx", NOW) is None
    with pytest.raises(ValueError):
        tokens.issue("secret", "mayor", "c-42", NOW, timedelta(days=90))


def test_a_token_expires_and_one_without_expiry_opens_nothing():
    token = tokens.issue("secret", "juror", "j-1", NOW, timedelta(days=90))
    assert tokens.verify("secret", token, NOW + timedelta(days=89)) is not None
    with pytest.raises(tokens.TokenExpired):
        tokens.verify("secret", token, NOW + timedelta(days=90))
    legacy = URLSafeSerializer("secret", salt="label-bearer-token").dumps({"r": "juror", "s": "j-1"})
    assert tokens.verify("secret", legacy, NOW) is None


def test_every_subscription_consumes_a_known_event_from_another_service():
    for event, consumer, method in contracts.SUBSCRIPTIONS:
        assert contracts.EVENTS[event.name] is event
        assert consumer != event.source
        assert method.startswith("on_")
        assert (
            contracts.queue_name(event, consumer, method)
            == f"evt-{event.source}-{event.name}--{consumer}.{method}"
        )


def test_a_producer_cannot_emit_a_payload_that_breaks_its_contract():
    with pytest.raises(ValueError, match="application_withdrawn"):
        contracts.check_payload(
            contracts.APPLICATION_WITHDRAWN, {"event_id": "x", "event": "e", "occurred_at": "t"}
        )
