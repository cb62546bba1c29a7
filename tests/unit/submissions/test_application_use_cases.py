"""Submissions' use cases over in-memory fakes (tests/unit/fakes.py): the
organisers' search, and messages a collectivité reads in French."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import Conflict, ValidationFailed
from services.submissions import logic
from services.submissions.logic import Submissions
from services.submissions.repository import list_older_applications
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


def names(found):
    return [a["collectivite"]["name"] for a in found["items"]]


def test_the_organisers_search_filters_and_sorts_by_department_then_name(desk):
    assert names(desk.search_applications(2027, {})) == ["Besançon", "Grenoble", "Bressuire", "Parthenay"]
    found = desk.search_applications(2027, {"region": "Nouvelle-Aquitaine"})
    assert names(found) == ["Bressuire", "Parthenay"]
    assert (found["next_after"], found["next_department"]) == (None, None)
    assert names(desk.search_applications(2027, {"text": "besancon"})) == ["Besançon"]  # accents ignored
    assert names(desk.search_applications(2027, {"text": "79202"})) == ["Parthenay"]
    assert names(desk.search_applications(2027, {"category": "village"})) == ["Bressuire"]
    assert names(desk.search_applications(2027, {"department": "38"})) == ["Grenoble"]
    assert names(desk.search_applications(2027, {"state": "submitted"})) == []
    assert desk.application_counts(2027)["counts"] is None  # the first count: the timer's
    assert desk.refresh_tallies() == 1
    assert desk.application_counts(2027)["counts"] == {"draft": 4}


def test_the_organisers_search_reads_one_departement_at_a_time_and_pages_by_cursor(desk, monkeypatch):
    monkeypatch.setattr(logic, "SEARCH_ROWS", 1)
    reads = []
    in_department = desk.applications.in_department
    monkeypatch.setattr(
        desk.applications,
        "in_department",
        lambda year, department, equal: reads.append(department) or in_department(year, department, equal),
    )
    seen, after = [], None
    while True:
        found = desk.search_applications(2027, {}, after=after)
        seen += names(found)
        after = found["next_after"]
        if after is None:
            break
    assert seen == ["Besançon", "Grenoble", "Bressuire", "Parthenay"]
    # Each page reads from the cursor's département on, and stops once it holds a page.
    assert reads == ["25", "38", "25", "38", "79", "38", "79", "79"]
    with pytest.raises(ValidationFailed) as refused:
        desk.search_applications(2027, {}, after="x" * 200)
    assert "after" in refused.value.fields


def test_a_search_by_name_stops_on_its_budget_and_goes_on_from_the_next_departement(desk, monkeypatch):
    monkeypatch.setattr(logic, "SEARCH_BUDGET", 2)
    first = desk.search_applications(2027, {"text": "parthenay"})
    assert names(first) == [] and first["next_department"] == "79"  # 25 and 38 read, nothing found
    second = desk.search_applications(2027, {"text": "parthenay"}, start=first["next_department"])
    assert names(second) == ["Parthenay"] and second["next_department"] is None


def test_applications_stored_before_the_list_by_departement_are_listed_once_migrated(desk):
    db = desk.applications.collection.database
    db.applications.update_many({}, {"$unset": {"department": "", "region": "", "category": ""}})
    db.campaign_departments.delete_many({})
    assert names(desk.search_applications(2027, {})) == []
    list_older_applications(db)
    assert names(desk.search_applications(2027, {})) == ["Besançon", "Grenoble", "Bressuire", "Parthenay"]


def test_a_submitted_application_says_its_state_in_french(desk):
    desk.submit_application("2027:25056", "collectivite", "25056")
    with pytest.raises(Conflict) as refused:
        desk.update_application("2027:25056", "collectivite", "25056", {"services": []})
    assert refused.value.message == "La candidature n'est plus un brouillon : elle est déposée."


def test_a_withdrawal_after_the_release_is_refused_even_before_its_event_arrives(desk):
    desk.submit_application("2027:25056", "collectivite", "25056")
    with pytest.raises(Conflict) as refused:
        desk.withdraw_application(
            "2027:25056", "collectivite", "25056", release_frozen=lambda year: year == 2027
        )
    assert refused.value.code == "results_released"
    assert desk.applications.get("2027:25056")["state"] == "submitted"
    withdrawn = desk.withdraw_application(
        "2027:25056", "collectivite", "25056", release_frozen=lambda year: False
    )
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
