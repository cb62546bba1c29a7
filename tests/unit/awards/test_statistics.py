"""Palmarès and statistics from raw decisions against hand-computed tables."""

from services.awards import logic, palmares, release
from tests.unit.awards import campaign


def palmares_entries(labelled, history_by_code, mention_labels, year=0):
    """The palmarès of these (application, outcome) pairs, as a draft makes it."""
    lines = [palmares.palmares_line(app, outcome, mention_labels) for app, outcome in labelled]
    return palmares.with_progression(lines, history_by_code, year)


MENTION_LABELS = {
    "accessibility": "Accessibilité",
    "opengov": "Gouvernement ouvert",
    "telework": "Télétravail",
}


def palmares_of_generated():
    applications, proposals, decisions, withdrawn, previous = campaign.generate()
    active = logic.active_applications(applications, withdrawn)
    decided = [
        (app, logic.final_outcome(proposals.get(app["_id"]), decisions.get(app["_id"]))) for app in active
    ]
    labelled = [(app, outcome) for app, outcome in decided if outcome is not None]
    pending = [app["_id"] for app, outcome in decided if outcome is None]
    history = {code: {2018: level} for code, level in previous.items()}  # labelled the year before
    entries = palmares_entries(labelled, history, MENTION_LABELS, 2019)
    return decided, labelled, pending, entries


def test_generated_campaign_has_a_few_hundred_raw_applications():
    applications, proposals, decisions, withdrawn, _ = campaign.generate()
    assert len(applications) == 300
    assert (len(proposals), len(decisions), len(withdrawn)) == (268, 47, 47)


def test_statistics_equal_the_2019_table():
    _, _, pending, entries = palmares_of_generated()
    stats = palmares.statistics(entries)

    assert stats["labelled_count"] == 233
    # Keyed by the category values of the API, the communes of the territoires beside.
    assert stats["by_category"] == {"ville": 167, "village": 53, "territoire": 13}
    assert stats["territoires_communes"] == 287
    assert stats["by_arobases"] == {"1": 48, "2": 60, "3": 70, "4": 25, "5": 30}
    assert list(stats["by_region"].items())[:5] == [
        ("Île-de-France", 52),
        ("Auvergne-Rhône-Alpes", 25),
        ("Hauts-de-France", 22),
        ("Grand Est", 21),
        ("Nouvelle-Aquitaine", 20),
    ]
    assert stats["by_region"] == {
        "Île-de-France": 52,
        "Auvergne-Rhône-Alpes": 25,
        "Hauts-de-France": 22,
        "Grand Est": 21,
        "Nouvelle-Aquitaine": 20,
        "Occitanie": 19,
        "Provence-Alpes-Côte d'Azur": 18,
        "Bretagne": 17,
        "Pays de la Loire": 16,
        "Normandie": 13,
        "Bourgogne-Franche-Comté": 6,
        "Centre-Val de Loire": 4,
    }
    assert stats["by_mention"] == {"accessibility": 25, "opengov": 35, "telework": 12}
    assert stats["progression"] == {"new": 168, "kept": 25, "gained": 30, "lost": 10, "back": 0}
    assert len(pending) == 20


def test_decisions_override_proposals_and_withdrawals_are_out():
    _, labelled, _, entries = palmares_of_generated()
    by_id = {e["application_id"]: e for e in entries}
    # app 1: proposal 5@ (its planned level is below 5), decision wins
    assert by_id["app-2019-0001"]["mentions"] == [{"code": "opengov", "label": "Gouvernement ouvert"}]
    assert by_id["app-2019-0003"]["mentions"] == [{"code": "telework", "label": "Télétravail"}]
    assert not any(app_id >= "app-2019-0233" for app_id in by_id)
    sources = {outcome["source"] for _, outcome in labelled}
    assert sources == {"proposal", "decision"}


def test_preview_counts_levels_pending_and_missing_email():
    decided, _, _, _ = palmares_of_generated()
    preview = release.preview(iter(decided), released=False)
    assert preview["ready"] is False
    assert preview["by_arobases"] == {"1": 48, "2": 60, "3": 70, "4": 25, "5": 30}
    assert len(preview["undecided"]) == 20
    assert sorted(preview["missing_email"]) == ["col-0007", "col-0057", "col-0107", "col-0157", "col-0207"]
    assert preview["emails_to_send"] == 228


def test_progression_and_small_table():
    entries = palmares_entries(
        [
            (
                {
                    "_id": "a",
                    "collectivite": {
                        "id": "c1",
                        "insee_code": "1",
                        "name": "A",
                        "category": "ville",
                        "region": "Bretagne",
                    },
                },
                {"arobases": 3, "mentions": []},
            ),
            (
                {
                    "_id": "b",
                    "collectivite": {
                        "id": "c2",
                        "insee_code": "2",
                        "name": "B",
                        "category": "village",
                        "region": "Bretagne",
                    },
                },
                {"arobases": 4, "mentions": []},
            ),
            (
                {
                    "_id": "c",
                    "collectivite": {
                        "id": "c3",
                        "insee_code": "3",
                        "name": "C",
                        "category": "ville",
                        "region": "Normandie",
                    },
                },
                {"arobases": 1, "mentions": []},
            ),
            (
                {
                    "_id": "d",
                    "collectivite": {
                        "id": "c4",
                        "insee_code": "4",
                        "name": "D",
                        "category": "territoire",
                        "region": "Normandie",
                        "member_communes": ["x", "y", "x"],
                    },
                },
                {"arobases": 2, "mentions": []},
            ),
        ],
        {"1": {2018: 3}, "2": {2016: 4, 2018: 2}, "3": {2018: 5}, "4": {2019: 5}},
        {},
        2019,
    )
    assert {e["application_id"]: e["progression"] for e in entries} == {
        "a": "kept",
        "b": "gained",  # against its last label (2018), not an older one
        "c": "lost",
        "d": "new",  # a level of the campaign itself is not history
    }
    stats = palmares.statistics(entries)
    assert stats["by_category"] == {"ville": 2, "village": 1, "territoire": 1}
    assert stats["territoires_communes"] == 2
    assert stats["by_region"] == {"Bretagne": 2, "Normandie": 2}


def test_rules():
    assert logic.departs_from_proposal({"arobases": 3, "mentions": ["a", "b"]}, 3, ["b", "a"]) is False
    assert logic.departs_from_proposal({"arobases": 3, "mentions": []}, 4, []) is True
    assert logic.departs_from_proposal({"arobases": 3, "mentions": []}, 3, ["a"]) is True
    assert logic.departs_from_proposal(None, 3, []) is False
    for good in ("mairie@ville.fr", "a.b@c.d.org"):
        assert logic.is_deliverable_email(good)
    for bad in (None, "", "mairie", "mairie@", "a@b", "a b@c.fr", "a@@b.fr"):
        assert not logic.is_deliverable_email(bad)


def test_batches_are_deterministic():
    items = list(range(1234))
    assert [len(b) for b in release.batches(items)] == [500, 500, 234]
    assert release.batches(items) == release.batches(list(items))
    assert release.batch_key(2019, 7, 2) == "release:2019:part:7:batch:2"


def test_csv_rows():
    released = {
        "year": 2019,
        "labelled": [
            {
                "collectivite": {"insee_code": "68278", "name": "Rixheim", "department": "68"},
                "category": "ville",
                "region": "Grand Est",
                "arobases": 5,
                "mentions": [{"code": "a", "label": "Télétravail"}],
                "progression": "kept",
                "previous_arobases": 5,
            },
            {
                "collectivite": {"insee_code": "38185", "name": "Grenoble"},
                "category": "ville",
                "region": "Auvergne-Rhône-Alpes",
                "arobases": 3,
                "mentions": [],
                "progression": "new",
                "previous_arobases": None,
            },
        ],
    }
    rows = palmares.chunk_csv_rows(2019, 0, released["labelled"])  # the whole palmarès as one chunk
    assert rows[2] == [2019, "38185", "Grenoble", "ville", "Auvergne-Rhône-Alpes", "", 3, "", "nouveau", ""]
    assert rows[0][:3] == ["annee", "code_insee", "collectivite"]
    # Progression in French, like every cell a reader sees.
    assert rows[1] == [2019, "68278", "Rixheim", "ville", "Grand Est", "68", 5, "Télétravail", "maintenu", 5]
    # Read chunk by chunk (the header with the first), the same rows.
    entries = released["labelled"]
    chunks = [
        palmares.chunk_csv_rows(2019, index, entries[index : index + 1]) for index in range(len(entries))
    ]
    assert [row for chunk in chunks for row in chunk] == rows


def test_statistics_stored_by_an_older_release_read_in_the_current_shape():
    old = {
        "by_category": {"villes": 2, "villages": 1, "territoires": 1, "territoires_communes": 6},
        "labelled_count": 4,
    }
    assert palmares.current_shape(old)["by_category"] == {"ville": 2, "village": 1, "territoire": 1}
    assert palmares.current_shape(old)["territoires_communes"] == 6
    current = palmares.statistics([])
    assert palmares.current_shape(current) == current


def test_back_after_years_of_absence_against_the_last_label_however_old():
    besancon = {
        "id": "c1",
        "insee_code": "25056",
        "name": "Besançon",
        "category": "ville",
        "region": "Grand Est",
    }
    app = {"_id": "a", "collectivite": besancon}
    [entry] = palmares_entries(
        [(app, {"arobases": 4, "mentions": []})], {"25056": {2016: 3, 2019: 5}}, {}, 2023
    )
    assert (entry["progression"], entry["previous_arobases"], entry["previous_year"]) == ("back", 5, 2019)
    [entry] = palmares_entries([(app, {"arobases": 4, "mentions": []})], {"25056": {2022: 3}}, {}, 2023)
    assert (entry["progression"], entry["previous_year"]) == ("gained", 2022)
    assert palmares.statistics([entry])["progression"]["back"] == 0


def test_without_history_the_declared_level_is_used_and_marked_as_declared():
    town = {"id": "c1", "insee_code": "25056", "name": "Besançon", "category": "ville", "region": "Grand Est"}
    app = {"_id": "a", "collectivite": town, "declared_previous_arobases": 3}
    [entry] = palmares_entries([(app, {"arobases": 4, "mentions": []})], {}, {}, 2023)
    assert (entry["progression"], entry["previous_arobases"], entry["previous_declared"]) == (
        "gained",
        3,
        True,
    )
    # History, when there is some, wins over what is declared.
    [entry] = palmares_entries([(app, {"arobases": 4, "mentions": []})], {"25056": {2021: 4}}, {}, 2023)
    assert (entry["progression"], entry["previous_declared"]) == ("back", False)
