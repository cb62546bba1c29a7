"""No result email can exist before the campaign's release."""

import jinja2

from services.common.clock import utcnow
from services.notifications import logic
from tests.unit.notifications.fixtures import BESANCON, SETTINGS, FakeRepos, award, released


def make():
    repos = FakeRepos()
    return repos, logic.Notifications(repos, logic.Renderer(), SETTINGS, utcnow())


def result_emails(repos):
    return [d for d in repos.emails.docs.values() if d["template"] == "result"]


def test_award_before_release_is_held_then_queued_by_the_release():
    repos, notifications = make()
    early = award()
    assert notifications.on_award_decided(early) == []
    assert notifications.on_award_decided(early) == []  # redelivered: still nothing
    assert result_emails(repos) == []
    notifications.on_results_released(released())
    [doc] = result_emails(repos)
    assert doc["recipient"] == BESANCON["email"] and doc["event_id"] == early["event_id"]
    # the release redelivered: same emails, no second one
    notifications.on_results_released(released())
    assert len(result_emails(repos)) == 1


def test_release_of_another_year_releases_nothing():
    repos, notifications = make()
    notifications.on_award_decided(award(year=2018))
    notifications.on_results_released(released(year=2017))
    assert result_emails(repos) == []


def test_award_racing_the_release_is_not_lost():
    """The release is recorded between the award's check and its hold."""
    repos, notifications = make()
    original_hold = repos.held_awards.hold_many

    def hold_then_release(year, awards):
        original_hold(year, awards)
        notifications.repos.releases.mark(year, {})  # the release lands now, after its flush found nothing

    repos.held_awards.hold_many = hold_then_release
    queued = notifications.on_award_decided(award())
    assert len(queued) == 1 and len(result_emails(repos)) == 1


def test_collectivite_without_email_gets_nothing():
    repos, notifications = make()
    notifications.on_results_released(released())
    assert notifications.on_award_decided(award(collectivite=dict(BESANCON, email=None))) == []


def test_a_template_failing_for_one_recipient_fails_that_email_only():
    """The release queues every held result in one handler: one email that
    cannot be rendered is stored failed (the organisers see it and are
    alerted), the others are queued; the event is handled, not retried."""
    broken = dict(BESANCON, id="col-39198", insee_code="39198", name="Dole", email="mairie@dole.fr")

    class BrokenForDole(logic.Renderer):
        def render(self, template, context):
            if (context.get("collectivite") or {}).get("email") == broken["email"]:
                raise jinja2.TemplateError("'dict object' has no attribute 'tncc'")
            return super().render(template, context)

    repos = FakeRepos()
    notifications = logic.Notifications(repos, BrokenForDole(), SETTINGS, utcnow())
    notifications.on_award_decided(dict(award(collectivite=broken), application_id="app-2017-39198"))
    notifications.on_award_decided(award())
    notifications.on_results_released(released())

    by_recipient = {d["recipient"]: d for d in result_emails(repos)}
    assert by_recipient[BESANCON["email"]]["state"] == "queued"
    failed = by_recipient[broken["email"]]
    assert failed["state"] == "failed"
    assert failed["last_error"].startswith("modèle « result » impossible à rendre")
    alerts = [d for d in repos.emails.docs.values() if d["template"] == "result_failed_alert"]
    assert {d["recipient"] for d in alerts} == set(SETTINGS.organisers)


def test_a_batch_queues_the_released_campaign_and_holds_the_other():
    repos, notifications = make()
    notifications.on_results_released(released(year=2017))
    late, early = award(year=2017), award(year=2018)
    queued = notifications.on_awards_decided([late, early, late])  # a redelivery inside the batch
    assert [repos.emails.docs[i]["event_id"] for i in queued] == [late["event_id"]]
    assert [d["event_id"] for d in result_emails(repos)] == [late["event_id"]]
    assert repos.held_awards.for_year(2018) == [early]
    assert repos.held_awards.for_year(2017) == []
