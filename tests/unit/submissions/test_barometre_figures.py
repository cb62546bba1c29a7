"""The baromètre, the Atlaas directory and the pré-diagnostic (issue 16): the pure
computation on a campaign generated with known proportions, and the use cases
over in-memory fakes (nothing before the release, never a draft, consent, the
threshold of 5 collectivités)."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import Conflict, NotFound, ValidationFailed
from services.submissions import barometre, repository
from services.submissions.logic import Submissions
from tests.support import barometre_data
from tests.unit.fakes import SUBMISSIONS_SETTINGS, MemoryOutbox

NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SETTINGS = SUBMISSIONS_SETTINGS
CAMPAIGN = {"year": 2027, "grid": barometre_data.GRID}


def shares(view):
    return {row["code"]: row["share"] for row in view["enjeux"]}


def test_the_seeds_shares_are_found_back_in_a_generated_campaign():
    apps = barometre_data.stored(barometre_data.applications(1000), 2027)
    document, entries = barometre.compute(CAMPAIGN, apps, "2027-11-20T18:00:00+00:00")
    view = barometre.public_view(document)
    found = shares(view)
    assert found["acces"] == 26.0 and found["acces"] > 25
    assert (found["communication"], found["culture"], found["education"]) == (18.5, 15.0, 12.0)
    assert found["logement"] <= 2 and found["sport"] <= 2 and found["environnement"] <= 2
    assert view["initiatives"] == 4000 and view["applications"] == 1000
    # Larger communes tick more services (the generator's rule, found back by band).
    means = [row["mean_services"] for row in view["bands"]]
    assert means == sorted(means) and means[0] < means[-1]
    # Only the consented initiatives (one in three) go to the directory.
    assert len(entries) == 1334 and all(e["title"].startswith("Médiathèque") for e in entries)
    assert view["most_adopted"][0]["share"] >= view["least_adopted"][0]["share"]


def test_an_aggregate_of_fewer_than_five_collectivites_is_withheld():
    apps = barometre_data.stored(barometre_data.applications(100), 2027)
    # Four big cities only above 100,000: that band and "Île-de-France"'s four are withheld.
    apps = [a for a in apps if a["collectivite"]["population"] != 160000] + [
        a for a in apps if a["collectivite"]["population"] == 160000
    ][:4]
    for app in apps[:4]:
        app["collectivite"]["region"] = "Corse"
    apps = [a for a in apps if a["collectivite"]["region"] != "Corse"] + apps[:4]
    view = barometre.public_view(barometre.compute(CAMPAIGN, apps, "2027-11-20T18:00:00+00:00")[0])
    band = next(row for row in view["bands"] if row["code"] == "plus_100000")
    assert band == {
        "code": "plus_100000",
        "label": "Plus de 100 000 habitants",
        "collectivites": None,
        "mean_services": None,
        "withheld": True,
    }
    corse = next(row for row in view["regions"] if row["code"] == "Corse")
    assert corse["withheld"] and corse["collectivites"] is None and corse["initiatives"] is None
    assert next(row for row in view["bands"] if row["code"] == "moins_3500")["collectivites"] > 5
    # A campaign of four applications shows no share at all.
    tiny = barometre.public_view(barometre.compute(CAMPAIGN, apps[:4], "2027-11-20T18:00:00+00:00")[0])
    assert (
        tiny["withheld"] and tiny["enjeux"] == [] and tiny["services"] == [] and tiny["initiatives"] is None
    )


def test_year_on_year_change_only_for_codes_of_both_years():
    first = barometre.compute(CAMPAIGN, barometre_data.stored(barometre_data.applications(100), 2026), "x")[0]
    first["year"] = 2026
    first["enjeux"] = [row for row in first["enjeux"] if row["code"] != "sante"]
    second = barometre.compute(
        CAMPAIGN, barometre_data.stored(barometre_data.applications(100, seed=7), 2027), "y"
    )[0]
    view = barometre.public_view(second, first)
    by_code = {row["code"]: row for row in view["enjeux"]}
    assert by_code["sante"]["change"] is None
    assert by_code["acces"]["change"] == 0.0  # the same exact share both years
    assert view["previous_year"] == 2026
    assert all(row["change"] is not None for row in view["services"])


def test_search_terms_fold_accents_and_stem_in_french():
    assert barometre.terms("Les médiathèques numériques") == barometre.terms("mediatheque NUMERIQUE")
    assert barometre.terms("accès") == barometre.terms("acces")
    assert barometre.terms("de la et") == []


# -- use cases over fakes --------------------------------------------------------


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
    generated = barometre_data.applications(100)
    for index, app in enumerate(generated):
        created = desk.register_collectivite(app["collectivite"], trusted=True)
        desk.create_application(
            created["id"],
            {"campaign_year": 2027, "services": app["services"], "initiatives": app["initiatives"]},
        )
        if index < 80:  # the last 20 stay drafts
            desk.submit_application(f"2027:{created['id']}", "collectivite", created["id"])
    return desk


def every_page(desk, filters, limit=7):
    seen, cursor = [], ""
    while True:
        page = desk.search_initiatives(dict(filters, limit=limit, cursor=cursor))
        assert len(page["items"]) <= limit
        seen += page["items"]
        if not page["next_cursor"]:
            return seen
        cursor = page["next_cursor"]


def release(desk):
    desk.mark_released(2027, NOW + timedelta(days=60))


def test_nothing_before_the_release_and_never_a_draft(desk):
    with pytest.raises(Conflict) as embargo:
        desk.barometre(2027)
    assert embargo.value.code == "results_embargoed"
    assert desk.search_initiatives({})["items"] == []
    assert desk.barometre_years() == []
    release(desk)
    view = desk.barometre(2027)
    assert view["applications"] == 80 and view["initiatives"] == 320  # the 20 drafts left out
    assert desk.barometre_years() == [2027]
    release(desk)  # a replayed event changes nothing
    assert desk.barometre(2027) == view


def test_an_initiative_without_consent_never_appears_in_the_directory(desk):
    release(desk)
    seen = every_page(desk, {})
    submitted_published = sum(1 for n in range(80 * 4) if n % 3 == 0)
    assert len(seen) == submitted_published == len({item["id"] for item in seen})
    assert all(not item["title"].startswith("Initiative réservée") for item in seen)
    assert desk.search_initiatives({"q": "zorglub"})["items"] == []
    assert desk.search_initiatives({"q": "confidentiel"})["items"] == []
    found = every_page(desk, {"q": "mediatheques ecole"}, limit=100)
    assert [item["id"] for item in found] == [item["id"] for item in seen]
    assert all("terms" not in item for item in found)
    culture = desk.search_initiatives({"enjeu": "culture", "region": "Bretagne", "limit": 100})["items"]
    assert culture and all(i["enjeu"] == "culture" and i["region"] == "Bretagne" for i in culture)
    villages = desk.search_initiatives({"band": "moins_3500", "year": 2027, "limit": 100})["items"]
    assert villages and all(i["band"] == "moins_3500" for i in villages)


def test_the_directorys_filters_are_checked(desk):
    with pytest.raises(ValidationFailed) as refused:
        desk.search_initiatives({"limit": 1000, "band": "huge", "cursor": "$where"})
    assert set(refused.value.fields) == {"limit", "band", "cursor"}
    assert refused.value.fields["band"] == [
        "Tranche de population inconnue : moins_3500, 3500_20000, 20000_100000 ou plus_100000."
    ]


def test_the_prediagnostic_compares_with_five_or_more_similar_collectivites(desk):
    with pytest.raises(NotFound):
        desk.prediagnostic("29000", "collectivite", "29000")  # no baromètre yet
    release(desk)
    result = desk.prediagnostic("29000", "collectivite", "29000")
    assert not result["withheld"] and result["collectivites"] >= 5
    offered = set(desk.get_application("2027:29000", "collectivite", "29000")["services"])
    assert all(not s["offered"] and s["code"] not in offered for s in result["suggestions"])
    shares_ = [s["share"] for s in result["suggestions"]]
    assert shares_ == sorted(shares_, reverse=True)
    assert {e["position"] for e in result["enjeux"]} <= {"au-dessus", "en dessous", "au niveau"}
    with pytest.raises(NotFound):
        desk.prediagnostic("29000", "collectivite", "31001")  # someone else's


def test_the_prediagnostic_is_withheld_when_fewer_than_five_are_similar():
    apps = barometre_data.stored(barometre_data.applications(100), 2027)
    document = barometre.compute(CAMPAIGN, apps[:12], "x")[0]  # two of each population
    result = barometre.prediagnostic(apps[0], barometre_data.GRID, document)
    assert result["withheld"] and "services" not in result and "suggestions" not in result


@pytest.mark.parametrize(
    "filters",
    [{}, {"enjeu": "culture", "region": "Bretagne"}, {"q": "médiathèques écoles", "band": "3500_20000"}],
)
def test_the_postings_in_small_chunks_give_every_match_once_newest_first(desk, monkeypatch, filters):
    monkeypatch.setattr(repository, "POSTING_CHUNK", 4)  # many chunk boundaries
    release(desk)
    expected = sorted(
        (
            entry["_id"]
            for entry in desk.atlaas.collection.find({})
            if all(entry[key] == value for key, value in filters.items() if key != "q")
        ),
        reverse=True,
    )
    assert expected
    assert [item["id"] for item in every_page(desk, filters, limit=7)] == expected
    assert [item["id"] for item in every_page(desk, filters, limit=1)] == expected


def test_a_crash_between_the_release_and_the_barometre_is_made_good_by_the_replay(desk):
    release(desk)
    directory = every_page(desk, {}, limit=100)
    # As if the process died after recording the release but before the baromètre
    # document (written last): the replayed event computes it all again, once.
    desk.barometres.collection.delete_many({})
    with pytest.raises(Conflict):
        desk.barometre(2027)
    release(desk)
    assert desk.barometre(2027)["applications"] == 80
    assert every_page(desk, {}, limit=100) == directory
