"""The juror's page (templates/web/jure_tableau.html): the tasks waiting are
counted up to a page, past which it says "more than"."""

import re
from types import SimpleNamespace

from services.gateway.web import pages

VISITOR = SimpleNamespace(principal=SimpleNamespace(role="juror", subject="j-1"), csrf="jeton")


def waiting(open_by_year):
    html = pages.get_template("jure_tableau.html").render(
        visitor=VISITOR,
        juror={"name": "Ada Lovelace", "department": "25", "conflicts": []},
        held=[],
        done=[],
        done_more=False,
        open_by_year=open_by_year,
        csrf_field="csrf",
        category_labels={},
    )
    section = html[html.index("Dossiers à examiner") : html.index("Mes avis rendus")]
    return re.sub(r"<[^>]+>|\s+", " ", section)


def test_past_one_page_the_tasks_waiting_are_more_than_counted():
    text = waiting([(2027, 180, True), (2026, 1, False)])
    assert "Campagne 2027 : plus de 180 dossiers peuvent vous être confiés." in " ".join(text.split())
    assert "Campagne 2026 : 1 dossier peut vous être confié." in " ".join(text.split())
