"""labelctl prediagnostic: the pré-diagnostic computed from a generated campaign, as French text."""

from labelctl.commands.prediagnostic import render
from services.submissions import barometre
from tests.support import barometre_data

CAMPAIGN = {"year": 2027, "grid": barometre_data.GRID}


def test_the_prediagnostic_reads_in_french_with_decimal_commas():
    apps = barometre_data.stored(barometre_data.applications(100), 2027)
    document = barometre.compute(CAMPAIGN, apps, "2027-11-20T18:00:00+00:00")[0]
    text = render(barometre.prediagnostic(apps[0], barometre_data.GRID, document))
    assert text.startswith("Candidature 2027 comparée aux 34 collectivités comparables de 2027")
    # 800 and 2,400 inhabitants: both under 3,500 and villages, 34 of the 100.
    assert "pas encore par celle-ci :" in text and " %  " in text
    assert "Accès au numérique et infrastructures : " in text
    suggestion = next(line for line in text.splitlines() if " %  " in line)
    assert "," in suggestion.split("%")[0] and "." not in suggestion.split("%")[0]


def test_a_withheld_prediagnostic_says_why():
    apps = barometre_data.stored(barometre_data.applications(100), 2027)
    document = barometre.compute(CAMPAIGN, apps[:12], "x")[0]
    text = render(barometre.prediagnostic(apps[0], barometre_data.GRID, document))
    assert text == (
        "Moins de 5 collectivités comparables (moins de 3 500 habitants, village) en 2027 : "
        "comparaison non publiée.\n"
    )
