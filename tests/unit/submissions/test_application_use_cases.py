"""Submissions' use cases over in-memory fakes (tests/unit/fakes.py): the
organisers' search, and messages a collectivité reads in French."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import Conflict
from services.submissions.logic import Submissions
from tests.unit.fakes import SUBMISSIONS_SETTINGS, MemoryOutbox

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SETTINGS = SUBMISSIONS_SETTINGS


def town(code, name, department, region, population=8000, kind="commune"):
    return {
        "insee_code": code,
        "name": name,
        "kind": kind,
        "population": population,
        "region": region,
        "department": department,
        "email": f"mairie@{code}.example.fr",
    }


@pytest.fixture
def desk():
    out = MemoryOutbox()
    desk = Submissions(out.db, out.session, SETTINGS, NOW)
    desk.create_campaign(
        {
            "year": 2027,
            "title": "Label 2027",
            "submissions_open_at": (NOW - timedelta(days=1)).isoformat(),
            "submissions_close_at": (NOW + timedelta(days=30)).isoformat(),
            "ceremony_at": (NOW + timedelta(days=60)).isoformat(),
            "ceremony_place": "Lille",
        }
    )
    for args in [
        ("25056", "Besançon", "25", "Bourgogne-Franche-Comté", 116000),
        ("79202", "Parthenay", "79", "Nouvelle-Aquitaine", 10000),
        ("38185", "Grenoble", "38", "Auvergne-Rhône-Alpes", 158000),
        ("79048", "Bressuire", "79", "Nouvelle-Aquitaine", 2000),
    ]:
        created = desk.register_collectivite(town(*args), trusted=True)
        desk.create_application(created["id"], {"campaign_year": 2027, "services": [], "initiatives": []})
    return desk


def test_the_organisers_search_filters_sorts_by_name_and_pages(desk):
    found = desk.search_applications(2027, {"region": "Nouvelle-Aquitaine"})
    assert [a["collectivite"]["name"] for a in found["items"]] == ["Bressuire", "Parthenay"]
    assert desk.search_applications(2027, {"text": "besancon"})["total"] == 1  # accents ignored
    assert (
        desk.search_applications(2027, {"category": "village"})["items"][0]["collectivite"]["name"]
        == "Bressuire"
    )
    assert desk.search_applications(2027, {"department": "38"})["total"] == 1
    paged = desk.search_applications(2027, {}, page=2, per_page=3)
    assert (paged["total"], paged["pages"], paged["page"]) == (4, 2, 2)
    assert [a["collectivite"]["name"] for a in paged["items"]] == ["Parthenay"]
    assert desk.application_counts(2027) == {"draft": 4}


def test_a_submitted_application_says_its_state_in_french(desk):
    desk.submit_application("2027:25056", "collectivite", "25056")
    with pytest.raises(Conflict) as refused:
        desk.update_application("2027:25056", "collectivite", "25056", {"services": []})
    assert refused.value.message == "La candidature n'est plus un brouillon : elle est déposée."


def test_a_withdrawal_after_the_release_is_refused_even_before_its_event_arrives(desk):
    desk.submit_application("2027:25056", "collectivite", "25056")
    with pytest.raises(Conflict) as refused:
        desk.withdraw_application("2027:25056", "collectivite", "25056", released=lambda year: year == 2027)
    assert refused.value.code == "results_released"
    assert desk.applications.get("2027:25056")["state"] == "submitted"
    withdrawn = desk.withdraw_application("2027:25056", "collectivite", "25056", released=lambda year: False)
    assert withdrawn["state"] == "withdrawn"


def test_the_applications_list_pages_by_id_after_a_cursor(desk):
    first = desk.list_applications(2027, "organiser", "o@x.fr", None, None, 3)
    assert [a["id"] for a in first] == ["2027:25056", "2027:38185", "2027:79048"]
    rest = desk.list_applications(2027, "organiser", "o@x.fr", None, first[-1]["id"], 3)
    assert [a["id"] for a in rest] == ["2027:79202"]
    desk.submit_application("2027:79202", "collectivite", "79202")
    assert [a["id"] for a in desk.list_applications(2027, "organiser", "o", "submitted", None, 3)] == [
        "2027:79202"
    ]
    # a collectivité sees its own, once
    assert len(desk.list_applications(2027, "collectivite", "38185", None, None, 3)) == 1
    assert desk.list_applications(2027, "collectivite", "38185", None, "2027:38185", 3) == []


def test_a_collectivites_home_lists_the_open_campaigns_and_its_recent_applications():
    out = MemoryOutbox()
    then = Submissions(out.db, out.session, SETTINGS, NOW)

    def campaign(desk, year, moment):
        desk.create_campaign(
            {
                "year": year,
                "title": f"Label {year}",
                "submissions_open_at": (moment - timedelta(days=1)).isoformat(),
                "submissions_close_at": (moment + timedelta(days=1)).isoformat(),
                "ceremony_at": (moment + timedelta(days=10)).isoformat(),
                "ceremony_place": "Lille",
            }
        )

    then.register_collectivite(town("25056", "Besançon", "25", "Bourgogne-Franche-Comté"), trusted=True)
    then.register_collectivite(town("79202", "Parthenay", "79", "Nouvelle-Aquitaine"), trusted=True)
    for year in range(2020, 2027):  # seven campaigns it applied to
        campaign(then, year, NOW)
        then.create_application("25056", {"campaign_year": year, "services": [], "initiatives": []})
    later = Submissions(out.db, out.session, SETTINGS, NOW + timedelta(days=60))
    campaign(later, 2027, NOW + timedelta(days=60))  # open now, not applied to yet

    rows = later.campaigns_of_collectivite("25056", 5)
    assert [row["campaign"]["year"] for row in rows] == [2027, 2026, 2025, 2024, 2023, 2022]
    assert rows[0]["application"] is None and rows[1]["application"]["id"] == "2026:25056"
    # nothing applied to: the open campaign only
    assert [
        (row["campaign"]["year"], row["application"]) for row in later.campaigns_of_collectivite("79202", 5)
    ] == [(2027, None)]
