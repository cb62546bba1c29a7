"""Every email the label sends, rendered by the real notifications logic from
sample events, written to docs/mails/ (text and HTML) so that a reviewer
reads them without running anything.

    make mails          # or: .venv/bin/python -m tests.support.mail_samples docs/mails
"""

import sys
from datetime import UTC, datetime
from pathlib import Path

from services.notifications.logic import Notifications, Renderer
from tests.unit.notifications.fixtures import SETTINGS, FakeRepos

NOW = datetime(2027, 6, 2, 8, 30, tzinfo=UTC)
YEAR = 2027
LE_MANS = {
    "id": "72181",
    "insee_code": "72181",
    "name": "Le Mans",
    "kind": "commune",
    "category": "ville",
    "department": "72",
    "region": "Pays de la Loire",
    "population": 145000,
    "email": "numerique@lemans.example.fr",
    "member_communes": [],
    "tncc": 2,
}
JUROR = {"id": "jur-1", "name": "Claire Dupont", "email": "claire.dupont@example.fr"}
ENJEUX = [
    {
        "code": "acces",
        "label": "Accès au numérique et infrastructures",
        "services": [
            {"code": "wifi", "label": "Wi-Fi public gratuit"},
            {"code": "epn", "label": "Espace public numérique"},
        ],
    },
    {
        "code": "democratie",
        "label": "Démocratie locale et participation citoyenne",
        "services": [{"code": "budget", "label": "Budget participatif en ligne"}],
    },
]  # fmt: skip


def envelope(event: str, **payload: object) -> dict:
    """A fixed event id per event: the samples (and their Message-IDs) are the same every run."""
    return dict(payload, event_id=f"sample-{event}", event=event, occurred_at="2027-06-02T08:30:00+00:00")


def sample_events(notifications: Notifications) -> None:
    """One event (or call) per email template, as the services send them."""
    n = notifications
    n.on_campaign_opened(
        envelope(
            "campaign_opened",
            year=YEAR,
            title=f"Label Territoires, Villes et Villages Internet {YEAR}",
            submissions_open_at="2027-01-10T08:00:00+00:00",
            submissions_close_at="2027-06-30T21:59:00+00:00",
            ceremony_at="2027-12-09T17:00:00+00:00",
            ceremony_place="Lille Grand Palais",
            reviews_per_application=2,
            enjeux=ENJEUX,
            mentions=[{"code": "gouvernement_ouvert", "label": "Gouvernement ouvert"}],
        )
    )
    n.on_collectivite_registered(envelope("collectivite_registered", collectivite=LE_MANS, access_token="t"))
    n.on_application_reminder_due(
        envelope(
            "application_reminder_due",
            application_id="2027:72181",
            campaign_year=YEAR,
            collectivite=LE_MANS,
            submissions_close_at="2027-06-30T21:59:00+00:00",
        )
    )
    n.on_application_submitted(
        envelope(
            "application_submitted",
            application_id="2027:72181",
            campaign_year=YEAR,
            collectivite=LE_MANS,
            services=["wifi", "epn", "budget"],
            initiatives=[
                {
                    "title": "Fabrique numérique des Sablons",
                    "enjeu": "acces",
                    "description": "…",
                    "url": None,
                },
                {
                    "title": "Budget participatif",
                    "enjeu": "democratie",
                    "description": "…",
                    "url": "https://www.lemans.fr/budget-participatif",
                },
            ],
            reviews_per_application=2,
            enjeux=["acces", "democratie"],
            mentions=["gouvernement_ouvert"],
            submitted_at="2027-06-02T08:30:00+00:00",
        )
    )
    n.on_application_withdrawn(
        envelope(
            "application_withdrawn",
            application_id="2027:72181",
            campaign_year=YEAR,
            collectivite=LE_MANS,
            withdrawn_at="2027-06-10T09:00:00+00:00",
        )
    )
    n.on_juror_registered(envelope("juror_registered", juror=JUROR, department="75", access_token="t"))
    n.on_review_task_claimed(
        envelope(
            "review_task_claimed",
            task_id="2027:72181:1",
            application_id="2027:72181",
            campaign_year=YEAR,
            juror_id="jur-1",
            collectivite=LE_MANS,
            first_claim=True,
        )
    )
    n.on_review_tasks_available(
        envelope("review_tasks_available", campaign_year=YEAR, juror=JUROR, open_tasks=12)
    )
    n.on_deliberation_ready(envelope("deliberation_ready", campaign_year=YEAR, application_count=331))
    n.on_results_released(
        envelope(
            "results_released",
            campaign_year=YEAR,
            released_at="2027-12-09T18:00:00+00:00",
            released_by="florence.durand@villes-internet.example.fr",
            labelled_count=331,
            pending=[],
        )
    )
    [result] = n.on_award_decided(
        envelope(
            "award_decided",
            campaign_year=YEAR,
            application_id="2027:72181",
            collectivite=LE_MANS,
            arobases=4,
            mentions=[{"code": "gouvernement_ouvert", "label": "Gouvernement ouvert"}],
            progression="gained",
            previous_arobases=3,
            previous_year=2025,
            ceremony_at="2027-12-09T17:00:00+00:00",
            ceremony_place="Lille Grand Palais",
            feedback={
                "category": "ville",
                "scores": [
                    {"enjeu": "acces", "label": "Accès au numérique", "score": 3.5, "category_average": 2.4},
                    {"enjeu": "citoyennete", "label": "Citoyenneté", "score": 3.0, "category_average": 2.7},
                    {"enjeu": "education", "label": "Éducation", "score": 2.0, "category_average": 2.6},
                    {"enjeu": "tourisme", "label": "Tourisme", "score": None, "category_average": 1.8},
                ],
                "proposed_mentions": [
                    {"code": "gouvernement_ouvert", "label": "Gouvernement ouvert"},
                    {"code": "numerique_educatif", "label": "Numérique éducatif"},
                ],
                "comments": [
                    "Une démarche de données ouvertes exemplaire, portée par les élus et les services.",
                    "Les écoles gagneraient à partager leurs projets numériques avec les familles.",
                ],
            },
        )
    )  # fmt: skip
    failed = dict(n.repos.emails.get(result), attempts=8, last_error="550 boîte inconnue")
    n.queue_failure_alert(failed)
    for purpose in ("confirm", "sign_in", "invite"):
        n.queue_sign_in(
            {
                "request_id": f"sample-{purpose}",
                "recipient": "numerique@lemans.example.fr",
                "purpose": purpose,
                "links": [{"label": "Espace de la collectivité (code 72181)", "url": "https://label.example.fr/connexion/lien?jeton=…"}],
                "minutes": 30,
            }
        )  # fmt: skip


def render_samples(out_dir: Path) -> list[Path]:
    repos = FakeRepos()
    sample_events(Notifications(repos, Renderer(), SETTINGS, NOW))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    seen: dict[str, list[str]] = {}  # template → the subjects written (organisers get the same twice)
    for doc in sorted(repos.emails.docs.values(), key=lambda d: (d["template"], d["subject"])):
        subjects = seen.setdefault(doc["template"], [])
        if doc["subject"] in subjects:
            continue
        subjects.append(doc["subject"])
        name = doc["template"] if len(subjects) == 1 else f"{doc['template']}_{len(subjects)}"
        text = f"À : {doc['recipient']}\nObjet : {doc['subject']}\n\n{doc['text']}"
        for suffix, body in ((".txt", text), (".html", doc["html"])):
            path = out_dir / f"{name}{suffix}"
            path.write_text(body, encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/mails")
    for path in render_samples(target):
        print(path)
