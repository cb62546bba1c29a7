from services.common.french import french_date, slug


def test_dates_are_written_in_paris_time_and_french():
    assert french_date("2017-12-12T18:00:00+00:00") == "12 décembre 2017 à 19 h 00"
    assert french_date("2019-06-30T23:30:00+00:00", with_time=False) == "1er juillet 2019"  # summer time
    assert french_date("2016-02-01T09:05:00+01:00") == "1er février 2016 à 9 h 05"


def test_what_is_not_a_zoned_time_is_left_as_it_is():
    assert french_date("bientôt") == "bientôt"
    assert french_date(None) == ""
    assert french_date("2017-12-12T18:00:00") == "2017-12-12T18:00:00"  # no time zone: not guessed


def test_regions_sort_in_french_order():
    from services.common.french import sort_key

    regions = [
        "Occitanie",
        "Île-de-France",
        "Auvergne-Rhône-Alpes",
        "Hauts-de-France",
        "La Réunion",
        "Grand Est",
    ]
    assert sorted(regions, key=sort_key) == [
        "Auvergne-Rhône-Alpes",
        "Grand Est",
        "Hauts-de-France",
        "Île-de-France",
        "La Réunion",
        "Occitanie",
    ]


def test_a_region_slug_is_ascii_lowercase_words_joined_by_hyphens():
    assert slug("Provence-Alpes-Côte d'Azur") == "provence-alpes-cote-d-azur"
    assert slug("Île-de-France") == "ile-de-france"
    assert slug("La Réunion") == "la-reunion"
    assert slug("Bretagne") == "bretagne"
    assert slug("  ") == "-"  # never empty: still a path segment
