"""A rendering test per email: French text, both parts, the collectivité's name, valid headers."""

import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from html import unescape

import pytest

from services.common.clock import utcnow
from services.notifications import logic
from services.notifications.sender import Sender
from services.notifications.settings import NotificationsSettings, SenderState
from tests.unit.notifications.fixtures import BESANCON, CONFIG, SETTINGS, FakeRepos, award, envelope, released

JUROR = {"id": "jur-1", "name": "Claire Dupont", "email": "claire.dupont@example.fr"}


def collectivite_events():
    return [
        (
            "welcome_collectivite",
            "on_collectivite_registered",
            envelope("collectivite_registered", collectivite=BESANCON, access_token="tok-XYZ"),
            ["est inscrite", "lien de connexion", "https://label.example.fr/collectivite", "Ville"],
        ),
        (
            "application_acknowledged",
            "on_application_submitted",
            envelope(
                "application_submitted",
                application_id="a1",
                campaign_year=2017,
                collectivite=BESANCON,
                services=["S01", "S02", "S17"],
                initiatives=[
                    {"title": "Fablab de la Boucle", "enjeu": "E03", "description": "…", "url": None},
                    {
                        "title": "Budget participatif en ligne",
                        "enjeu": "E07",
                        "description": "…",
                        "url": "https://besancon.fr/bp",
                    },
                ],
                reviews_per_application=2,
                enjeux=["E03", "E07"],
                mentions=[],
                submitted_at="2017-05-02T08:30:00+00:00",
            ),
            [
                "bien reçu",
                "3 services numériques",
                "2 initiatives",
                "Fablab de la Boucle",
                "Médiation numérique",
                "2 mai 2017",
            ],
        ),
        (
            "application_withdrawn",
            "on_application_withdrawn",
            envelope(
                "application_withdrawn",
                application_id="a1",
                campaign_year=2017,
                collectivite=BESANCON,
                withdrawn_at="2017-06-01T10:00:00+00:00",
            ),
            ["retirée", "1er juin 2017"],
        ),
        (
            "application_reminder",
            "on_application_reminder_due",
            envelope(
                "application_reminder_due",
                application_id="a1",
                campaign_year=2017,
                collectivite=BESANCON,
                submissions_close_at="2017-07-15T21:59:00+00:00",
            ),
            ["brouillon", "15 juillet 2017"],
        ),
        (
            "review_started",
            "on_review_task_claimed",
            envelope(
                "review_task_claimed",
                task_id="t1",
                application_id="a1",
                campaign_year=2017,
                juror_id="j",
                collectivite=BESANCON,
                first_claim=True,
            ),
            ["commencer l'examen"],
        ),
    ]


def make(now=None):
    repos = FakeRepos()
    notifications = logic.Notifications(repos, logic.Renderer(), SETTINGS, now or utcnow())
    repos.campaigns.save(2017, {"enjeux": {"E03": "Médiation numérique", "E07": "Démocratie locale"}})
    return repos, notifications


def parse(doc):
    settings = NotificationsSettings.from_config(dict(CONFIG, SMTP_URL="smtp://127.0.0.1:1"))
    msg = Sender(None, None, None, settings, SenderState()).message(doc)
    return BytesParser(policy=policy.default).parsebytes(msg.as_bytes())


def check_message(doc, expected):
    msg = parse(doc)
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    visible = unescape(re.sub(r"<[^>]+>", "", html))
    for fragment in expected:
        assert fragment in text, (fragment, text)
        assert fragment in visible, (fragment, visible)
    if doc["template"] == "result":  # a letter to a mayor or an EPCI president, from the association
        assert text.startswith("Madame, Monsieur,") and "salutations distinguées" in text
        assert "Pour l'association Villes Internet" in text and "L'équipe" not in text
    else:
        assert "Bonjour" in text and "Bien cordialement" in text
    assert msg["Message-ID"] == doc["message_id"] and msg["Message-ID"].endswith("@villes-internet.net>")
    assert msg["From"].addresses[0].addr_spec == "label@villes-internet.net"
    assert msg["Date"] and msg["Subject"] == doc["subject"]
    return msg, text, html


@pytest.mark.parametrize(
    "template,handler,event,expected", collectivite_events(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_collectivite_email(template, handler, event, expected):
    repos, notifications = make()
    [email_id] = getattr(notifications, handler)(event)
    doc = repos.emails.get(email_id)
    assert doc["template"] == template and doc["state"] == "queued"
    assert "Besançon" in doc["subject"]
    msg, text, html = check_message(doc, expected + ["Besançon"])
    assert msg["To"].addresses[0].addr_spec == "numerique@besancon.fr"
    assert msg["To"].addresses[0].display_name == "Besançon"
    assert "Besançon" in html


def test_result_email_after_release():
    repos, notifications = make()
    notifications.on_results_released(released())
    [email_id] = notifications.on_award_decided(award())
    doc = repos.emails.get(email_id)
    assert doc["kind"] == "result" and doc["subject"] == "Label 2017 : Besançon obtient 4 arobases"
    check_message(
        doc,
        [
            "Besançon",
            "4 arobases",
            "@@@@",
            "Gouvernement ouvert",
            "gagne une @ par rapport à 2016 : de 3 à 4 arobases",
            "12 décembre 2017 à 18 h 00",
            "Lille Grand Palais",
        ],
    )


@pytest.mark.parametrize(
    "progression,previous,fragment",
    [("new", None, "première labellisation"), ("kept", 4, "conserve"), ("lost", 5, "passe de 5 à 4")],
)
def test_result_progressions(progression, previous, fragment):
    repos, notifications = make()
    notifications.on_results_released(released())
    [email_id] = notifications.on_award_decided(award(progression=progression, previous=previous))
    check_message(repos.emails.get(email_id), [fragment])


def test_juror_emails():
    repos, notifications = make()
    [welcome] = notifications.on_juror_registered(
        envelope("juror_registered", juror=JUROR, department="75", access_token="jtok-1")
    )
    check_message(
        repos.emails.get(welcome),
        ["Claire Dupont", "lien de connexion", "département 75", "https://label.example.fr/jure"],
    )
    # Emails carry a way to sign in, never the bearer token itself.
    assert "jtok-1" not in repos.emails.get(welcome)["text"]
    assert "jtok-1" not in repos.emails.get(welcome)["html"]
    [digest] = notifications.on_review_tasks_available(
        envelope("review_tasks_available", campaign_year=2017, juror=JUROR, open_tasks=12)
    )
    doc = repos.emails.get(digest)
    assert doc["subject"] == "12 candidatures 2017 à examiner"
    check_message(doc, ["12 candidatures", "attendent un examen"])


def test_organiser_emails():
    repos, notifications = make()
    ids = notifications.on_deliberation_ready(
        envelope("deliberation_ready", campaign_year=2017, application_count=331)
    )
    assert sorted(repos.emails.get(i)["recipient"] for i in ids) == [
        "jury@villes-internet.net",
        "orga@villes-internet.net",
    ]
    # Organisers' emails lead to console pages (a browser shows them), not to the JSON API.
    check_message(
        repos.emails.get(ids[0]),
        [
            "331 candidatures",
            "délibération",
            "https://label.example.fr/organisation/campagnes/2017/deliberation",
        ],
    )
    ids = notifications.on_results_released(released())
    check_message(
        repos.emails.get(ids[0]),
        [
            "palmarès",
            "331 collectivités labellisées",
            "https://label.example.fr/organisation/campagnes/2017/publication",
        ],
    )
    result = dict(
        repos.emails.get(notifications.on_award_decided(award())[0]),
        attempts=8,
        last_error="550 mailbox unavailable",
    )
    ids = notifications.queue_failure_alert(result)
    assert len(ids) == 2
    check_message(
        repos.emails.get(ids[0]),
        ["Besançon", "numerique@besancon.fr", "8 tentatives", "550 mailbox", "/organisation/courriels/m"],
    )


def test_no_second_email_for_the_same_event():
    repos, notifications = make()
    event = envelope("collectivite_registered", collectivite=BESANCON, access_token="tok")
    assert len(notifications.on_collectivite_registered(event)) == 1
    assert notifications.on_collectivite_registered(event) == []
    assert len(repos.emails.docs) == 1


def test_review_started_only_on_first_claim():
    repos, notifications = make()
    event = envelope(
        "review_task_claimed",
        task_id="t2",
        application_id="a1",
        campaign_year=2017,
        juror_id="j",
        collectivite=BESANCON,
        first_claim=False,
    )
    assert notifications.on_review_task_claimed(event) == [] and not repos.emails.docs


def test_html_escapes_user_data():
    repos, notifications = make()
    evil = dict(BESANCON, name="<script>alert(1)</script>")
    [email_id] = notifications.on_collectivite_registered(
        envelope("collectivite_registered", collectivite=evil, access_token="t")
    )
    assert "<script>" not in repos.emails.get(email_id)["html"]


def place(name, tncc, kind="commune"):
    return dict(BESANCON, id=f"id-{name}", name=name, kind=kind, tncc=tncc)


@pytest.mark.parametrize(
    ("collectivite", "fragments"),
    [
        (
            place("Le Mans", 2),
            [
                "Le Mans est labellisé avec",
                "toutes les équipes du Mans !",
                "Le Mans gagne une @ par rapport à 2016",
            ],
        ),
        (
            place("Les Lilas", None),
            ["Les Lilas sont labellisés avec", "équipes des Lilas !", "Les Lilas gagnent une @"],
        ),
        (place("Arras", 1), ["Arras est labellisée avec", "toutes les équipes d'Arras !"]),
        (
            place("Communauté de communes du Thouarsais", None, kind="epci"),
            [
                "La Communauté de communes du Thouarsais est labellisée",
                "équipes de la Communauté de communes",
            ],
        ),
    ],
)
def test_result_letters_write_place_names_as_french_does(collectivite, fragments):
    repos, notifications = make()
    notifications.on_results_released(released())
    [result] = notifications.on_award_decided(award(collectivite=collectivite))
    doc = repos.emails.get(result)
    for fragment in fragments:
        assert fragment in doc["text"], (fragment, doc["text"])
    assert "de Le " not in doc["text"] and "de Les " not in doc["text"]


def test_the_result_letter_tells_a_past_ceremony_in_the_past():
    ceremony = "2017-12-12T17:00:00+00:00"
    for now, expected, absent in [
        (datetime(2017, 12, 1, tzinfo=UTC), "aura lieu le 12 décembre 2017", "a eu lieu"),
        (datetime(2017, 12, 13, tzinfo=UTC), "a eu lieu le 12 décembre 2017", "aura lieu"),
    ]:
        repos, notifications = make(now=now)
        notifications.on_results_released(released())
        [result] = notifications.on_award_decided(dict(award(), ceremony_at=ceremony))
        text = repos.emails.get(result)["text"]
        assert expected in text and absent not in text


WIFI, EPN = {"code": "S01", "label": "Wi-Fi public"}, {"code": "S02", "label": "EPN"}
BUDGET = {"code": "S17", "label": "Budget participatif"}


def test_the_acknowledgement_lists_services_by_their_labels_grouped_by_enjeu():
    repos, notifications = make()
    notifications.on_campaign_opened(
        envelope(
            "campaign_opened",
            year=2018,
            title="Label 2018",
            submissions_open_at="2018-01-01T00:00:00+00:00",
            submissions_close_at="2018-06-01T00:00:00+00:00",
            ceremony_at="2018-12-01T17:00:00+00:00",
            ceremony_place="Lille",
            reviews_per_application=2,
            mentions=[],
            enjeux=[
                {"code": "E01", "label": "Accès au numérique", "services": [WIFI, EPN]},
                {"code": "E07", "label": "Démocratie locale", "services": [BUDGET]},
            ],
        )
    )
    [ack] = notifications.on_application_submitted(
        envelope(
            "application_submitted",
            application_id="a2",
            campaign_year=2018,
            collectivite=BESANCON,
            services=["S17", "S01", "S02"],
            initiatives=[],
            reviews_per_application=2,
            enjeux=["E01", "E07"],
            mentions=[],
            submitted_at="2018-05-02T08:30:00+00:00",
        )
    )
    text = repos.emails.get(ack)["text"]
    assert "* Accès au numérique : Wi-Fi public, EPN\n  * Démocratie locale : Budget participatif" in text
    assert "S01" not in text and "S17" not in text


def test_a_batch_of_submissions_reads_each_campaign_once_and_queues_one_acknowledgement_each(monkeypatch):
    repos, notifications = make()
    repos.campaigns.save(2018, {"enjeux": {"E07": "Démocratie locale"}})
    read = []
    get = repos.campaigns.get
    monkeypatch.setattr(repos.campaigns, "get", lambda year: read.append(year) or get(year))

    def submitted(app_id, year, col):
        return envelope(
            "application_submitted",
            application_id=app_id,
            campaign_year=year,
            collectivite=col,
            services=[],
            initiatives=[{"title": "Budget participatif", "enjeu": "E07", "description": "…", "url": None}],
            reviews_per_application=2,
            enjeux=["E07"],
            mentions=[],
            submitted_at="2017-05-02T08:30:00+00:00",
        )

    unreachable = dict(BESANCON, id="col-x", email=None)
    batch = [
        submitted("a1", 2017, BESANCON),
        submitted("a2", 2018, BESANCON),
        submitted("a3", 2017, unreachable),
    ]
    queued = notifications.on_applications_submitted(batch)
    assert sorted(read) == [2017, 2018]
    assert [repos.emails.get(email_id)["event_id"] for email_id in queued] == [
        e["event_id"] for e in batch[:2]
    ]
    assert all("Démocratie locale" in repos.emails.get(email_id)["text"] for email_id in queued)
    assert notifications.on_applications_submitted(batch) == []  # redelivered: nothing queued twice


def test_a_collectivite_back_after_years_of_absence_is_told_so():
    repos, notifications = make()
    notifications.on_results_released(released(2023))
    [result] = notifications.on_award_decided(
        award(year=2023, arobases=4, progression="back", previous=5, previous_year=2019)
    )
    text = repos.emails.get(result)["text"]
    assert (
        "Besançon retrouve le label après trois ans d'absence, avec 4 arobases (5 arobases en 2019)." in text
    )
    assert "première labellisation" not in text


def test_organisers_emails_agree_in_number():
    repos, notifications = make()
    [ready, _] = notifications.on_deliberation_ready(
        envelope("deliberation_ready", campaign_year=2017, application_count=1)
    )
    assert "La candidature du label 2017 a sa proposition" in repos.emails.get(ready)["text"]
    [published, _] = notifications.on_results_released(dict(released(), labelled_count=1))
    doc = repos.emails.get(published)
    assert "1 collectivité labellisée" in doc["subject"] and "1 collectivités" not in doc["text"]


def test_a_declared_previous_level_is_said_to_be_declared():
    repos, notifications = make()
    notifications.on_results_released(released())
    event = dict(award(previous=3, previous_year=None), previous_declared=True)
    [result] = notifications.on_award_decided(event)
    assert "gagne une @ par rapport au niveau déclaré dans sa candidature" in repos.emails.get(result)["text"]


FEEDBACK = {
    "category": "ville",
    "scores": [
        {"enjeu": "acces", "label": "Accès au numérique", "score": 3.5, "category_average": 2.4},
        {"enjeu": "tourisme", "label": "Tourisme", "score": None, "category_average": 1.8},
    ],
    "proposed_mentions": [{"code": "teletravail", "label": "Télétravail"}],
    "comments": ["Un portail <b>exemplaire</b>."],
}


def test_the_result_letter_carries_the_jury_feedback():
    repos, notifications = make()
    notifications.on_results_released(released())
    [result] = notifications.on_award_decided(dict(award(), feedback=FEEDBACK))
    doc = repos.emails.get(result)
    text, html = doc["text"], doc["html"]
    assert "Accès au numérique : 3,5 (moyenne des villes : 2,4)" in text
    assert "Tourisme : n. a. (moyenne des villes : 1,8)" in text
    assert "pour la mention : Télétravail." in text
    assert "« Un portail <b>exemplaire</b>. »" in text
    assert '<th scope="row"' in html and "3,5" in html and "2,4" in html
    assert "Un portail &lt;b&gt;exemplaire&lt;/b&gt;." in html  # a comment is escaped
    # without feedback (an older release), the letter says nothing of it
    repos, notifications = make()
    notifications.on_results_released(released())
    [plain] = notifications.on_award_decided(award())
    assert "retour du jury" not in repos.emails.get(plain)["text"]
