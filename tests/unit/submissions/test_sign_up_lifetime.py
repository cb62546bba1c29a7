"""A public sign-up must confirm its address before it acts; unconfirmed ones
expire (the timer forgets their address, the code is free again); an
organiser's sign-up is trusted."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import Conflict, Forbidden
from services.submissions.logic import Submissions
from tests.unit.fakes import SUBMISSIONS_SETTINGS, MemoryOutbox

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SETTINGS = SUBMISSIONS_SETTINGS
APPLICATION = {"campaign_year": 2027, "services": [], "initiatives": []}


def town(code="25056", email="mairie@besancon.example.fr"):
    return {
        "insee_code": code,
        "name": "Besançon",
        "kind": "commune",
        "population": 116000,
        "region": "Bourgogne-Franche-Comté",
        "department": "25",
        "email": email,
    }


@pytest.fixture
def out():
    out = MemoryOutbox()
    Submissions(out.db, out.session, SETTINGS, NOW).create_campaign(
        {
            "year": 2027,
            "title": "Label 2027",
            "submissions_open_at": (NOW - timedelta(days=1)).isoformat(),
            "submissions_close_at": (NOW + timedelta(days=30)).isoformat(),
            "ceremony_at": (NOW + timedelta(days=60)).isoformat(),
            "ceremony_place": "Lille",
        }
    )
    return out


def at(out, moment):
    return Submissions(out.db, out.session, SETTINGS, moment)


def test_a_public_sign_up_sends_no_welcome_and_may_not_apply_until_confirmed(out):
    created = at(out, NOW).register_collectivite(town())
    assert created["confirmed"] is False and created["token"]
    assert "collectivite_registered" not in out.names()  # no email with the requester's text
    with pytest.raises(Forbidden) as refused:
        at(out, NOW).create_application("25056", APPLICATION)
    assert refused.value.code == "address_unconfirmed"
    at(out, NOW + timedelta(hours=1)).confirm_collectivite("25056")
    assert out.names().count("collectivite_registered") == 1  # the welcome, once confirmed
    at(out, NOW + timedelta(hours=1)).confirm_collectivite("25056")  # a second click: nothing more
    assert out.names().count("collectivite_registered") == 1
    at(out, NOW + timedelta(hours=2)).create_application("25056", APPLICATION)


def test_an_organiser_s_sign_up_is_confirmed_at_once(out):
    created = at(out, NOW).register_collectivite(town(), trusted=True)
    assert created["confirmed"] is True and created["token"]
    assert out.names().count("collectivite_registered") == 1
    at(out, NOW).create_application("25056", APPLICATION)


def test_an_unconfirmed_sign_up_expires_its_address_is_forgotten_and_the_code_is_free(out):
    at(out, NOW).register_collectivite(town(email="squatteur@example.fr"))
    with pytest.raises(Conflict):  # taken while its delay runs
        at(out, NOW + timedelta(hours=47)).register_collectivite(town(email="mairie@besancon.example.fr"))
    assert at(out, NOW + timedelta(hours=47)).expire_unconfirmed() == []
    later = NOW + timedelta(hours=48)
    assert at(out, later).expire_unconfirmed() == ["25056"]
    assert at(out, later).expire_unconfirmed() == []  # once
    assert at(out, later).collectivites_by_email("squatteur@example.fr") == []
    with pytest.raises(Conflict) as late:
        at(out, later).confirm_collectivite("25056")
    assert late.value.code == "sign_up_expired"
    again = at(out, later).register_collectivite(town(email="mairie@besancon.example.fr"))
    assert again["id"] == "25056" and again["replaced"] is True  # the gateway refuses the former tokens
    doc = out.db.collectivites.find_one({"_id": "25056"})
    assert doc["email"] == "mairie@besancon.example.fr" and doc["expired_at"] is None
    at(out, later).confirm_collectivite("25056")
    at(out, later).create_application("25056", APPLICATION)


def test_a_reassigned_code_waits_for_its_new_address_and_an_old_link_opens_nothing(out):
    at(out, NOW).register_collectivite(town(email="squatteur@example.fr"))
    at(out, NOW).confirm_collectivite("25056", "squatteur@example.fr")
    at(out, NOW).create_application("25056", APPLICATION)
    done = at(out, NOW).reassign_collectivite("25056", " mairie@besancon.example.fr ")
    assert done == {"id": "25056", "email": "mairie@besancon.example.fr", "confirmed": False}
    with pytest.raises(Forbidden) as old_link:
        at(out, NOW).confirm_collectivite("25056", "squatteur@example.fr")
    assert old_link.value.code == "address_changed"
    assert at(out, NOW).collectivites_by_email("squatteur@example.fr") == []
    at(out, NOW).confirm_collectivite("25056", "Mairie@Besancon.example.fr")
    assert out.db.collectivites.find_one({"_id": "25056"})["confirmed_at"] is not None


def test_the_expiry_timer_reads_the_lapsed_sign_ups_only_and_expired_ones_never_hide_a_later_one(out):
    at(out, NOW).register_collectivite(town("25056"), trusted=True)
    for n in range(3):  # three sign-ups that lapse
        at(out, NOW).register_collectivite(town(f"2510{n}", email=f"s{n}@example.fr"))
    at(out, NOW + timedelta(hours=47)).register_collectivite(town("25200", email="tard@example.fr"))
    at(out, NOW).register_collectivite(town("25300", email="ok@example.fr"))
    at(out, NOW).confirm_collectivite("25300")
    later = NOW + timedelta(hours=48)
    read = out.db.collectivites.find
    seen = []
    out.db.collectivites.find = lambda query, *a, **k: seen.append(query) or read(query, *a, **k)
    try:
        assert at(out, later).expire_unconfirmed(limit=2) == ["25100", "25101"]
        # The two expired leave the set: the third comes next, not behind them.
        assert at(out, later).expire_unconfirmed(limit=2) == ["25102"]
        assert at(out, later).expire_unconfirmed(limit=2) == []
    finally:
        out.db.collectivites.find = read
    assert all(query.get("awaiting_confirmation") is True for query in seen)  # an equality, never a scan
    assert at(out, NOW + timedelta(hours=95)).expire_unconfirmed() == ["25200"]
    assert out.db.collectivites.find_one({"_id": "25300"})["awaiting_confirmation"] is False


def test_the_sign_ups_stored_before_the_field_get_it_from_their_dates():
    from services.submissions.repository import mark_awaiting_confirmation

    db = MemoryOutbox().db
    db.collectivites.insert_many(
        [
            {"_id": "imported", "confirm_by": None, "confirmed_at": NOW},
            {"_id": "waiting", "confirm_by": NOW, "confirmed_at": None},
            {"_id": "confirmed", "confirm_by": None, "confirmed_at": NOW},
            {"_id": "expired", "confirm_by": NOW, "confirmed_at": None, "expired_at": NOW},
        ]
    )
    mark_awaiting_confirmation(db)
    assert {doc["_id"]: doc["awaiting_confirmation"] for doc in db.collectivites.find({})} == {
        "imported": False,
        "waiting": True,
        "confirmed": False,
        "expired": False,
    }
