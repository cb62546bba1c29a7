"""The outbox sender over the real notifications repositories, ledger and
outbox session, in memory (tests/unit/fakes.py), with a scripted SMTP:
claims, outcomes recorded, transient and permanent failures, outages."""

from datetime import timedelta

import pytest

from services.notifications import logic, sender
from services.notifications.repository import Repositories
from services.notifications.settings import NotificationsSettings, SenderState
from tests.unit.fakes import Clock, MemoryOutbox, SmtpServer, refused
from tests.unit.notifications.fixtures import BESANCON, CONFIG, award, envelope, released

SETTINGS = NotificationsSettings.from_config(
    dict(CONFIG, SMTP_BACKOFF_SECONDS=5, SENDING_LEASE_SECONDS=120, SMTP_GIVE_UP_HOURS=48)
)
ADDRESS = BESANCON["email"]


class Mail:
    def __init__(self):
        self.out = MemoryOutbox()
        self.repos = Repositories(self.out.db)
        self.clock = Clock()
        self.smtp = SmtpServer()
        self.state = SenderState()  # what the process keeps between runs

    @property
    def notifications(self):
        return logic.Notifications(
            self.repos, logic.Renderer(), SETTINGS, self.clock(), outbox=self.out.session
        )

    def sender(self, settings=SETTINGS, **kwargs):
        return sender.Sender(
            self.repos,
            self.out.session,
            self.notifications,
            settings,
            self.state,
            connect=self.smtp,
            clock=self.clock,
            **kwargs,
        )

    def welcome(self):
        (email_id,) = self.notifications.on_collectivite_registered(
            envelope("collectivite_registered", collectivite=BESANCON, access_token="tok")
        )
        return email_id

    def registered(self, count):
        """The welcome emails of `count` collectivités, mairie<n>@exemple.fr."""
        ids = []
        for n in range(count):
            col = dict(BESANCON, id=f"col-{n}", insee_code=f"25{n:03d}", email=f"mairie{n}@exemple.fr")
            ids += self.notifications.on_collectivite_registered(
                envelope("collectivite_registered", collectivite=col, access_token="tok")
            )
        return ids

    def email(self, email_id):
        return self.repos.emails.get(email_id)


@pytest.fixture
def mail():
    return Mail()


def test_a_queued_email_is_sent_once_and_recorded(mail):
    email_id = mail.welcome()
    assert mail.sender().run() == {"sent": 1, "retry": 0, "failed": 0, "skipped": 0}

    ((_, recipients, message),) = mail.smtp.accepted
    assert recipients == [ADDRESS]
    assert f"Message-ID: {mail.email(email_id)['message_id']}".encode() in message
    doc = mail.email(email_id)
    assert (doc["state"], doc["attempts"]) == ("sent", 1)
    assert mail.repos.attempts.get(email_id, 1)["owner"]
    assert mail.repos.decided(f"email-sent:{email_id}")
    assert mail.out.payloads("email_sent")[0]["email_id"] == email_id
    assert mail.repos.emails.due(mail.clock(), 10) == []
    assert mail.sender().run()["sent"] == 0
    assert len(mail.smtp.accepted) == 1


def test_two_senders_never_send_the_same_email(mail):
    email_id = mail.welcome()
    batch = mail.repos.emails.due(mail.clock(), 10)
    first, second = mail.sender(), mail.sender()
    second.owner = "other-host:42"
    assert [(e["_id"], n) for e, n in first.claim(batch)] == [(email_id, 1)]
    counts, _ = second.send_batch(batch)  # the same stale batch: its claim insert loses
    assert counts == {"sent": 0, "retry": 0, "failed": 0, "skipped": 1}
    assert mail.smtp.accepted == []


def test_a_transient_refusal_is_retried_after_a_backoff(mail):
    email_id = mail.welcome()
    mail.smtp.answers[ADDRESS] = refused(451, "greylisted")
    assert mail.sender().run()["retry"] == 1
    doc = mail.email(email_id)
    assert (doc["state"], doc["attempts"]) == ("queued", 1)
    assert doc["next_attempt_at"] == mail.clock() + timedelta(seconds=5)
    assert "451" in doc["last_error"]
    assert mail.repos.attempts.get(email_id, 1)["outcome"] == "retry"

    del mail.smtp.answers[ADDRESS]
    assert mail.sender().run()["sent"] == 0  # not due yet
    mail.clock.advance(seconds=5)
    assert mail.sender().run()["sent"] == 1
    assert (mail.email(email_id)["state"], mail.email(email_id)["attempts"]) == ("sent", 2)
    assert mail.out.names() == ["email_sent"]


def test_a_permanent_refusal_fails_the_email_and_a_failed_result_alerts_the_organisers(mail):
    mail.notifications.on_results_released(released(2017))
    (result_id,) = mail.notifications.on_award_decided(award(2017))
    mail.smtp.answers[ADDRESS] = refused(550, "no such user")
    counts = mail.sender().run()

    # Failed: the result. Sent: the organisers' two release emails, then (next batch
    # of the same run) the two alerts the failure queued.
    assert (counts["failed"], counts["sent"]) == (1, 4)
    doc = mail.email(result_id)
    assert (doc["state"], doc["attempts"]) == ("failed", 1)
    (failed,) = mail.out.payloads("email_failed")
    assert (failed["email_id"], failed["template"]) == (result_id, "result")
    assert "550" in failed["error"]
    alerts = list(mail.out.db.emails.find({"template": "result_failed_alert"}))
    assert sorted(a["recipient"] for a in alerts) == ["jury@villes-internet.net", "orga@villes-internet.net"]
    assert {a["state"] for a in alerts} == {"sent"}
    assert sorted(r for _, (r,), _ in mail.smtp.accepted).count("orga@villes-internet.net") == 2
    assert mail.sender().run()["sent"] == 0
    assert mail.email(result_id)["state"] == "failed"


def test_the_release_page_counts_the_result_emails_by_state(mail):
    mail.notifications.on_results_released(released(2017))
    mail.notifications.on_award_decided(award(2017))
    assert mail.notifications.campaign_mail(2017, "result")["counts"] is None  # the first: the timer's
    assert mail.notifications.refresh_tallies() == 1
    assert mail.notifications.campaign_mail(2017, "result")["counts"] == {"queued": 1}
    mail.smtp.answers[ADDRESS] = refused(550, "no such user")
    mail.sender().run()
    assert mail.notifications.campaign_mail(2017, "result")["counts"] == {"failed": 1}
    # The campaign page counts every kind: the organisers' release emails and alerts too.
    mail.notifications.campaign_mail(2017)
    assert mail.notifications.refresh_tallies() == 1
    assert mail.notifications.campaign_mail(2017)["counts"] == {"failed": 1, "sent": 4}


def test_while_the_server_is_down_nothing_is_claimed_then_old_emails_fail(mail):
    email_id = mail.welcome()
    mail.smtp.down = True
    assert mail.sender().run() == {"sent": 0, "retry": 0, "failed": 0, "skipped": 0}
    assert mail.repos.attempts.get(email_id, 1) is None  # no attempt spent
    assert mail.email(email_id)["state"] == "queued"
    assert mail.state.failures == 1

    mail.clock.advance(hours=49)
    assert mail.sender().run()["failed"] == 1
    doc = mail.email(email_id)
    assert doc["state"] == "failed" and "injoignable" in doc["last_error"]
    assert mail.smtp.accepted == []


def test_an_attempt_lost_in_a_crash_is_taken_over_after_the_lease(mail):
    email_id = mail.welcome()
    crashed = mail.sender()
    crashed.owner = "dead-host:1"
    crashed.claim(mail.repos.emails.due(mail.clock(), 10))  # claimed, then the process died

    assert mail.sender().run()["skipped"] == 1  # within the lease: left to its claimer
    assert mail.smtp.accepted == []
    mail.clock.advance(seconds=121)
    assert mail.sender().run()["sent"] == 1
    doc = mail.email(email_id)
    assert (doc["state"], doc["attempts"]) == ("sent", 2)
    assert len(mail.smtp.accepted) == 1


def test_an_email_sent_but_not_marked_is_rolled_forward_not_resent(mail):
    email_id = mail.welcome()
    batch = mail.repos.emails.due(mail.clock(), 10)
    crashed = mail.sender()
    crashed.owner = "dead-host:1"
    ((email, attempt),) = crashed.claim(batch)
    # SMTP accepted it and the ledger step was decided; the document update never happened.
    crashed._record(f"email-sent:{email_id}", logic.contracts.EMAIL_SENT, logic.sent_payload(email))

    assert mail.sender().run()["sent"] == 0
    assert mail.smtp.accepted == []
    assert (mail.email(email_id)["state"], mail.email(email_id)["attempts"]) == ("sent", attempt)


def test_an_accepted_email_whose_record_fails_is_never_marked_sent(mail, monkeypatch):
    email_id = mail.welcome()
    monkeypatch.setattr(sender, "RECORD_RETRY_DELAYS", (0, 0))
    outbox = mail.sender(sleep=lambda seconds: None)  # the retries, without the waits

    def database_down(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(outbox, "_record_many", database_down)
    with pytest.raises(RuntimeError, match="not recorded"):
        outbox.run()
    assert len(mail.smtp.accepted) == 1  # the SMTP server has it
    assert mail.email(email_id)["state"] != "sent"  # but it is not "sent" without its record
    assert mail.out.payloads("email_sent") == []


def test_a_database_outage_shorter_than_the_lease_does_not_resend(mail, monkeypatch):
    """The SMTP server accepted it, the database is down for ~20 s (within the
    120 s lease): the sender keeps trying to record it, and records it once back."""
    email_id = mail.welcome()
    waited = []
    outbox = mail.sender(sleep=waited.append)
    record = outbox._record_many

    def down_for_20_seconds(*args, **kwargs):
        if sum(waited) < 20:
            raise RuntimeError("database down")
        return record(*args, **kwargs)

    monkeypatch.setattr(outbox, "_record_many", down_for_20_seconds)
    assert outbox.run()["sent"] == 1
    assert len(mail.smtp.accepted) == 1
    assert mail.email(email_id)["state"] == "sent"
    assert [p["email_id"] for p in mail.out.payloads("email_sent")] == [email_id]


def test_several_connections_send_each_email_once_and_record_each_outcome(mail):
    settings = NotificationsSettings.from_config(dict(CONFIG, SMTP_CONNECTIONS=3, SMTP_BATCH_SIZE=100))
    ids = mail.registered(20)
    mail.smtp.answers["mairie3@exemple.fr"] = refused(451, "greylisted")
    mail.smtp.answers["mairie7@exemple.fr"] = refused(550, "no such user")
    outbox = mail.sender(settings)
    assert outbox.run() == {"sent": 18, "retry": 1, "failed": 1, "skipped": 0}

    # three connections for the batch, and a new one after each refused recipient
    assert len(mail.smtp.clients) == 5
    assert sum(1 for client in mail.smtp.clients if client.accepted) >= 3  # in parallel
    assert all(client.closed for client in mail.smtp.clients)
    recipients = sorted(r for _, (r,), _ in mail.smtp.accepted)
    assert len(recipients) == len(set(recipients)) == 18
    states = {i: mail.email(i)["state"] for i in ids}
    assert sorted(states.values()).count("sent") == 18
    assert sorted(p["email_id"] for p in mail.out.payloads("email_sent")) == sorted(
        i for i, state in states.items() if state == "sent"
    )
    assert mail.out.unpublished() == [] and mail.out.db.send_queue.count_documents({}) == 1  # the retry
    assert [p["recipient"] for p in mail.out.payloads("email_failed")] == ["mairie7@exemple.fr"]


def test_a_connection_lost_mid_batch_is_reopened_and_its_email_retried(mail):
    settings = NotificationsSettings.from_config(dict(CONFIG, SMTP_CONNECTIONS=1))
    mail.registered(6)
    mail.smtp.answers["mairie2@exemple.fr"] = ConnectionResetError(104, "reset")
    outbox = mail.sender(settings)
    assert outbox.run() == {"sent": 5, "retry": 1, "failed": 0, "skipped": 0}
    assert len(mail.smtp.clients) == 2  # the lost connection was replaced
    assert all(client.closed for client in mail.smtp.clients)


def test_results_held_until_the_release_are_queued_in_bulk_once(mail):
    awards = [
        award(2017, dict(BESANCON, id=f"col-{n}", insee_code=f"25{n:03d}", email=f"mairie{n}@exemple.fr"))
        for n in range(5)
    ]
    for data in awards:
        assert mail.notifications.on_award_decided(data) == []  # held: not released yet
    release = released(2017)
    queued = mail.notifications.on_results_released(release)
    assert len(queued) == 5 + 2  # the held results and the organisers' two
    assert mail.out.db.send_queue.count_documents({}) == 7
    # a redelivered release (and award) queues nothing new, and leaves one marker per email
    assert mail.notifications.on_results_released(release) == []
    assert mail.notifications.on_award_decided(awards[0]) == []
    assert mail.out.db.send_queue.count_documents({}) == mail.out.db.emails.count_documents({}) == 7
    assert mail.sender().run()["sent"] == 7
    assert mail.out.db.send_queue.count_documents({}) == 0


def test_a_batch_s_undecided_leases_are_renewed_in_one_update_by_their_owner_only(mail):
    mail.registered(3)
    outbox = mail.sender()
    (first, n1), (second, n2), (decided, n3) = outbox.claim(mail.repos.emails.due(mail.clock(), 10))
    claimed_at = mail.repos.attempts.get(first["_id"], n1)["claimed_at"]
    mail.repos.attempts.record_outcome(decided["_id"], n3, "retry")
    mail.clock.advance(seconds=100)
    pairs = [(first["_id"], n1), (second["_id"], n2), (decided["_id"], n3)]
    mail.repos.attempts.renew(pairs, "other-host:42", mail.clock())  # not theirs: nothing changes
    assert {mail.repos.attempts.get(e, n)["claimed_at"] for e, n in pairs} == {claimed_at}

    mail.repos.attempts.renew(pairs, outbox.owner, mail.clock())
    renewed = [mail.repos.attempts.get(e, n)["claimed_at"] for e, n in pairs]
    assert renewed == [mail.clock(), mail.clock(), claimed_at]  # a decided attempt keeps its time
