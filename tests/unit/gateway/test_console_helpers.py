"""Pure helpers of the organisers' console (services/gateway/console.py)."""

from services.gateway import console

OLD = {
    "enjeux": [
        {
            "code": "acces",
            "label": "Accès",
            "services": [{"code": "wifi", "label": "Wi-Fi"}, {"code": "epn", "label": "EPN"}],
        },
        {"code": "sport", "label": "Sport", "services": [{"code": "club", "label": "Clubs en ligne"}]},
    ]
}
NEW = {
    "enjeux": [
        {
            "code": "acces",
            "label": "Accès",
            "services": [{"code": "wifi", "label": "Wi-Fi public"}, {"code": "fibre", "label": "Fibre"}],
        },
        {"code": "sante", "label": "Santé", "services": [{"code": "tele", "label": "Téléconsultation"}]},
    ]
}


def test_grid_changes_name_what_is_added_removed_and_renamed():
    changes = console.grid_changes(OLD, NEW)
    assert changes["enjeux_added"] == ["Santé"] and changes["enjeux_removed"] == ["Sport"]
    assert changes["services_added"] == [("Accès", "Fibre"), ("Santé", "Téléconsultation")]
    assert changes["services_removed"] == [("Accès", "EPN"), ("Sport", "Clubs en ligne")]
    assert changes["services_renamed"] == [("Wi-Fi", "Wi-Fi public")]
    assert (changes["services_kept"], changes["services_total"]) == (1, 3)
    assert console.grid_changes(OLD, OLD)["services_renamed"] == []


def test_mentions_side_by_side_and_from_text():
    mentions, errors = console.mentions_from_text(
        "educ | Numérique éducatif\n\nsans séparateur\nsolid | Solidarité"
    )
    assert mentions == [
        {"code": "educ", "label": "Numérique éducatif"},
        {"code": "solid", "label": "Solidarité"},
    ]
    assert errors == ["Ligne 3 : attendu « code | libellé »."]
    old = [{"code": "educ", "label": "Numérique éducatif"}, {"code": "tele", "label": "Télétravail"}]
    assert console.mention_changes(old, mentions) == [
        ("Numérique éducatif", "Numérique éducatif"),
        ("Télétravail", "—"),
        ("—", "Solidarité"),
    ]
    assert console.mentions_from_text(console.mentions_text(old))[0] == old


def test_grid_text_empty_keeps_last_years_and_bad_json_is_named():
    assert console.grid_from_text("  ") == (None, [])
    assert console.grid_from_text('{"enjeux": []}') == ({"enjeux": []}, [])
    assert "JSON illisible" in console.grid_from_text("{enjeux")[1][0]
    assert console.grid_from_text("[1, 2]")[1] == ["Une grille est un objet JSON avec une liste « enjeux »."]


def test_paris_times_in_forms():
    assert console.paris_input("2027-01-15T17:30:00+00:00") == "2027-01-15T18:30"
    assert console.from_paris_input("2027-07-01T10:00") == "2027-07-01T10:00:00+02:00"
    assert console.from_paris_input("demain") is None
    assert console.paris_input(None) == ""


def deliberation_html(**context):
    from services.gateway.web import Visitor, render

    visitor = Visitor({"role": "organiser", "subject": "orga@villes-internet.example.fr"}, "csrf")
    row = {
        "application_id": "2017:40088",
        "collectivite": {"name": "Dax", "insee_code": "40088"},
        "reviews": [{"arobases": 3}],
        "reviews_done": 1,
        "reviews_expected": 2,
        "proposal": None,
        "spread": {},
        "disagreement": True,
        "decision": None,
    }
    page = render(
        "orga_deliberation.html", visitor, campaign={"year": 2017}, rows=[row], per_page=50, **context
    )
    return page.get_data(as_text=True)


def test_a_deliberation_page_links_the_next_one_in_its_view_and_back_to_the_start():
    first = deliberation_html(view="desaccords", after=None, next="2017:40088")
    assert 'href="/organisation/campagnes/2017/deliberation?vue=desaccords" aria-current="page"' in first
    assert 'href="/organisation/campagnes/2017/deliberation?vue=desaccords&amp;apres=2017%3A40088"' in first
    assert "Début de la liste" not in first and "Décider pour Dax" in first
    assert "50 par page au plus" in first
    last = deliberation_html(view="toutes", after="2017:40088", next=None)
    assert 'href="/organisation/campagnes/2017/deliberation" aria-current="page"' in last
    assert "Candidatures suivantes" not in last
    assert 'href="/organisation/campagnes/2017/deliberation">Début de la liste' in last


def test_a_page_of_counts_says_when_they_were_made_and_that_a_first_one_is_coming():
    from services.gateway.pages.organisation import counted

    made = {"counts": {"draft": 3}, "counted_at": "2027-03-01T09:00:00+00:00", "recounting": False}
    older = dict(made, counted_at="2027-03-01T08:59:00+00:00", recounting=True)
    first = {"counts": None, "counted_at": None, "recounting": True}  # the timer's first count is due
    assert counted(made, older) == {"at": "2027-03-01T08:59:00+00:00", "recounting": True}
    assert counted(made, first) == {"at": "2027-03-01T09:00:00+00:00", "recounting": True}
    assert counted(first) == {"at": None, "recounting": True}
