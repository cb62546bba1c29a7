"""The demo is faithful to the seed articles (../shared/seeds/): the levels
and mentions they report for the collectivités they name, one campaign per
seed year, and everything else marked as invented.

SEED_FACTS is read off the articles by hand: (seed file, year of the
palmarès, code, name, arobases reported or None, mentions reported or None).
"""

import pytest

from labelctl.demo import campaign_years, invented_note, load_seed_collectivites, seed_campaigns

F2016 = "000_e66e870ce4dd72b0.txt"  # Maire-info, 19 Feb 2016: the 2016 palmarès, "villes pionnières"
F2017 = "001_686f7b0edfaf17e0.txt"  # Techni.Cités, 8 Feb 2017: the 2017 palmarès (Lille)
F2019 = "003_a61c943fa5a82e5a.txt"  # 29 January (2019): 234 collectivités, 20 years of @
F2017B = "004_414a134965b8bbaa.txt"  # Le Monde, 2 Feb 2017: the 2017 ceremony in Lille

SEED_FACTS = [
    # 2016: the pioneers are named, no level or mention given
    (F2016, 2016, "25056", "Besançon", None, None),
    (F2016, 2016, "80021", "Amiens", None, None),
    (F2016, 2016, "29019", "Brest", None, None),
    (F2016, 2016, "57463", "Metz", None, None),
    (F2016, 2016, "92040", "Issy-les-Moulineaux", None, None),
    # 2017: "cinq arobases ... Besançon, Grenoble, Angers ... Agen, Saint-Germain-en-Laye, Vannes, ..."
    (F2017, 2017, "25056", "Besançon", 5, None),
    (F2017, 2017, "38185", "Grenoble", 5, None),
    (F2017, 2017, "49007", "Angers", 5, ["télétravail"]),
    (F2017, 2017, "47001", "Agen", 5, None),
    (F2017, 2017, "78551", "Saint-Germain-en-Laye", 5, None),
    (F2017, 2017, "56260", "Vannes", 5, None),
    (F2017, 2017, "60057", "Beauvais", 5, None),
    (F2017, 2017, "51230", "Épernay", 5, None),
    (F2017, 2017, "76276", "Forges-les-Eaux", 5, None),  # "seul village dans ce peloton de tête"
    # "entre deux et quatre arobases": no exact level (checked as a range below)
    (F2017, 2017, "72138", "Fresnay-sur-Sarthe", None, None),
    (F2017, 2017, "22179", "Fréhel", None, None),
    (F2017, 2017, "35315", "Saint-Sulpice-la-Forêt", None, None),
    (F2017, 2017, "55073", "Bras-sur-Meuse", None, None),
    (F2017, 2017, "26212", "Montvendre", None, None),
    (F2017, 2017, "200041333", "Communauté de communes de Parthenay-Gâtine", 5, None),
    (F2017, 2017, "94041", "Ivry-sur-Seine", None, ["gouvernement ouvert"]),
    (
        F2017,
        2017,
        "200044691",
        "Communauté d'agglomération La Riviera du Levant",
        None,
        ["gouvernement ouvert"],
    ),
    (F2017, 2017, "200071140", "Communauté de communes du Grand Autunois Morvan", None, ["télétravail"]),
    (F2017, 2017, "62041", "Arras", None, ["réseau social"]),
    (F2017, 2017, "07102", "Guilherand-Granges", None, ["réseau social"]),
    (F2017, 2017, "72181", "Le Mans", None, None),
    (F2017B, 2017, "73008", "Aix-les-Bains", 5, ["télétravail"]),  # mention: F2017
    (F2017B, 2017, "59378", "Marcq-en-Barœul", None, None),
    (F2017B, 2017, "94033", "Fontenay-sous-Bois", None, None),
    # 2019
    (F2019, 2019, "68278", "Rixheim", 5, None),  # "5 arobases obtenues après 5 ans"
    (
        F2019,
        2019,
        "54547",
        "Vandœuvre-lès-Nancy",
        5,
        None,
    ),  # "partis avec 5 arobases ... nous les retrouvons"
    (F2019, 2019, "13001", "Aix-en-Provence", None, None),  # "font leur entrée": no level
]
VILLAGES_2_TO_4 = {"72138", "22179", "35315", "55073", "26212"}


@pytest.fixture(scope="module")
def plan():
    return seed_campaigns(load_seed_collectivites())


def rows(plan):
    return {(year, c["insee_code"]): c for year, cs in plan.items() for c in cs}


def test_one_campaign_per_seed_year_each_collectivite_in_the_years_its_articles_name(plan):
    assert sorted(plan) == [2016, 2017, 2019]
    assert set(rows(plan)) == {(year, code) for _, year, code, *_ in SEED_FACTS}
    for year, collectivites in plan.items():
        codes = [c["insee_code"] for c in collectivites]
        assert len(codes) == len(set(codes)), year  # one application per collectivité and campaign
        assert all(c["seed_year"] == year for c in collectivites)


@pytest.mark.parametrize("source, year, code, name, arobases, mentions", SEED_FACTS)
def test_the_demo_uses_what_the_articles_report(plan, source, year, code, name, arobases, mentions):
    row = rows(plan)[(year, code)]
    assert row["name"] == name
    assert row["source"] == source
    if arobases is None:
        assert row["arobases_reported"] is False
        assert "niveau inventé" in invented_note(row)
    else:
        assert (row["arobases"], row["arobases_reported"]) == (arobases, True)
    if mentions is None:
        assert row["mentions_reported"] is False
        assert bool(row["mentions"]) == ("mention inventée" in invented_note(row))
    else:
        assert (row["mentions"], row["mentions_reported"]) == (mentions, True)


def test_invented_levels_stay_within_what_the_articles_say(plan):
    for code in VILLAGES_2_TO_4:
        assert 2 <= rows(plan)[(2017, code)]["arobases"] <= 4


def test_nothing_reported_without_a_row_of_the_table(plan):
    reported = {(year, code) for _, year, code, _, arobases, _ in SEED_FACTS if arobases is not None}
    reported_mentions = {(year, code) for _, year, code, _, _, mentions in SEED_FACTS if mentions is not None}
    for key, row in rows(plan).items():
        assert row["arobases_reported"] == (key in reported), key
        assert row["mentions_reported"] == (key in reported_mentions), key


def test_campaign_years_keep_the_seed_years_apart():
    assert campaign_years([2016, 2017, 2019]) == {2016: 2016, 2017: 2017, 2019: 2019}
    assert campaign_years([2016, 2017, 2019], first=2961) == {2016: 2961, 2017: 2962, 2019: 2964}
    # a used year moves the whole block, so the years never mix
    assert campaign_years([2016, 2017, 2019], used={2017}) == {2016: 2018, 2017: 2019, 2019: 2021}
