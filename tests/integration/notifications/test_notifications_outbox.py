"""The notifications service in a nameko container against the real RabbitMQ,
FerretDB and an SMTP server process. Campaign years 2401-2499."""

from collections import Counter

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter

from services.common.errors import Conflict, ValidationFailed
from services.common.ledger import Ledger
from services.notifications.service import NotificationsService
from tests.integration.notifications.helpers import award, registered, released
from tests.support.api import wait_until

SUBMISSIONS, AWARDS = "submissions", "awards"


def sent_count(db):
    return db["emails"].count_documents({"state": "sent"})


def test_same_event_three_times_gives_one_email(container_factory, config, smtp, notif_db, dispatch):
    container = container_factory(NotificationsService, config)
    container.start()
    event = registered(1, 2401, "it-dup")
    for _ in range(3):  # one delivery and two redeliveries of the same event id
        with entrypoint_waiter(container, "on_collectivite_registered", timeout=20):
            dispatch(SUBMISSIONS, "collectivite_registered", event)
    assert notif_db["emails"].count_documents({}) == 1
    wait_until(lambda: sent_count(notif_db) == 1, what="the welcome email sent")
    [msg] = smtp.mail.messages()
    assert "Commune n°1 de 2401" in str(msg["Subject"])
    body = msg.get_body(("plain",)).get_content()
    assert "/collectivite" in body and "tok-2401-1" not in body  # a way to sign in, never the token
    # the email_sent event went out through the ledger
    change = wait_until(
        lambda: notif_db["changes"].find_one({"events.name": "email_sent"}), what="email_sent decided"
    )
    wait_until(lambda: not Ledger(notif_db).is_pending(change["_id"]), what="email_sent published")
    assert change["events"][0]["payload"]["recipient"] == "mairie1.2401@commune.example.fr"


def test_no_result_email_before_the_release(container_factory, config, smtp, notif_db, dispatch):
    container = container_factory(NotificationsService, config)
    container.start()
    early = [award(n, 2402, "it-early") for n in range(3)]
    for event in early:
        with entrypoint_waiter(container, "on_award_decided", timeout=20):
            dispatch(AWARDS, "award_decided", event)
    # handled, held, nothing queued and nothing sent
    assert notif_db["emails"].count_documents({}) == 0
    assert notif_db["held_awards"].count_documents({}) == 3
    assert smtp.mail.count() == 0
    with ServiceRpcProxy("notifications", config) as proxy:
        assert proxy.list_outbox() == []

    with entrypoint_waiter(container, "on_results_released", timeout=20):
        dispatch(AWARDS, "results_released", released(2402, "it-early", count=3))
    # an award arriving after the release is queued at once
    with entrypoint_waiter(container, "on_award_decided", timeout=20):
        dispatch(AWARDS, "award_decided", award(3, 2402, "it-early"))
    wait_until(lambda: sent_count(notif_db) == 5, what="4 results + 1 organiser email sent")
    messages = smtp.mail.messages()
    results = [m for m in messages if "obtient 3 arobases" in str(m["Subject"])]
    assert len(results) == 4 and len(messages) == 5
    assert "Lille Grand Palais" in results[0].get_body(("plain",)).get_content()


def test_smtp_down_then_back_gives_every_email_once(
    container_factory, config, smtp, notif_db, dispatch, caplog
):
    smtp.stop()
    container = container_factory(NotificationsService, config)
    container.start()
    events = [registered(n, 2403, "it-down") for n in range(30)]
    for event in events:
        dispatch(SUBMISSIONS, "collectivite_registered", event)
    wait_until(lambda: notif_db["emails"].count_documents({}) == 30, what="30 emails queued")
    # the sender keeps trying, backing off (0.5, 1, 2 s...) while the server is
    # down, without spending the emails' attempts: an outage of four tries
    wait_until(
        lambda: sum("SMTP unreachable" in r.getMessage() for r in caplog.records) >= 4,
        what="retries while the server is down",
    )
    assert sent_count(notif_db) == 0 and notif_db["emails"].count_documents({"state": "queued"}) == 30
    smtp.start()
    wait_until(lambda: sent_count(notif_db) == 30, timeout=60, what="all 30 sent after the server came back")
    ids = smtp.message_ids()
    assert len(ids) == 30 and len(set(ids)) == 30
    recipients = Counter(str(m["To"].addresses[0].addr_spec) for m in smtp.mail.messages())
    assert recipients == Counter(e["collectivite"]["email"] for e in events)
    errors = [d["last_error"] for d in notif_db["emails"].find({}, {"last_error": 1})]
    assert all(e is None for e in errors)  # cleared once sent


def test_permanent_failure_of_a_result_alerts_the_organisers_and_can_be_resent(
    container_factory, config, smtp, notif_db, dispatch
):
    container = container_factory(NotificationsService, dict(config, SMTP_MAX_ATTEMPTS=3))
    container.start()
    with entrypoint_waiter(container, "on_results_released", timeout=20):
        dispatch(AWARDS, "results_released", released(2404, "it-fail"))
    with entrypoint_waiter(container, "on_award_decided", timeout=20):
        dispatch(AWARDS, "award_decided", award(1, 2404, "it-fail", email="reject550@commune.example.fr"))
    failed = wait_until(
        lambda: notif_db["emails"].find_one({"template": "result", "state": "failed"}),
        what="the result email failed",
    )
    assert failed["attempts"] == 1 and "550" in failed["last_error"]  # permanent: no retry
    alert = wait_until(
        lambda: [m for m in smtp.mail.messages() if "Alerte" in str(m["Subject"])],
        what="the organisers' alert",
    )[0]
    assert "reject550@commune.example.fr" in alert.get_body(("plain",)).get_content()
    assert wait_until(lambda: notif_db["changes"].find_one({"events.name": "email_failed"}))

    with ServiceRpcProxy("notifications", config) as proxy:
        listed = proxy.list_outbox("failed")
        assert [row["id"] for row in listed] == [failed["_id"]]
        theirs = proxy.list_outbox(recipient="reject550@commune.example.fr")
        assert [row["id"] for row in theirs] == [failed["_id"]]
        with pytest.raises(ValidationFailed) as refused:
            proxy.list_outbox(recipient="reject550 chez commune.example.fr")
        assert refused.value.fields == {"recipient": ["Adresse électronique invalide."]}
        detail = proxy.get_email(failed["_id"])
        assert detail["subject"].startswith("Label 2404") and "<html" in detail["html"] and detail["text"]
        with pytest.raises(Conflict):
            proxy.resend(wait_until(lambda: notif_db["emails"].find_one({"state": "sent"}))["_id"])
        assert proxy.resend(failed["_id"])["state"] == "queued"
    # fails again (the address is still refused): attempt 2, a second alert
    wait_until(
        lambda: notif_db["emails"].find_one({"_id": failed["_id"], "state": "failed", "attempts": 2}),
        what="the resend attempted and failed again",
    )
    wait_until(
        lambda: len([m for m in smtp.mail.messages() if "Alerte" in str(m["Subject"])]) == 2,
        what="a second alert",
    )


def test_transient_4xx_is_retried_then_failed_after_the_bound(
    container_factory, config, smtp, notif_db, dispatch
):
    container = container_factory(
        NotificationsService, dict(config, SMTP_MAX_ATTEMPTS=3, SMTP_BACKOFF_SECONDS=0.2)
    )
    container.start()
    with entrypoint_waiter(container, "on_collectivite_registered", timeout=20):
        dispatch(
            SUBMISSIONS,
            "collectivite_registered",
            registered(1, 2405, "it-4xx", email="busy451@commune.example.fr"),
        )
    failed = wait_until(
        lambda: notif_db["emails"].find_one({"state": "failed"}), what="failed after 3 attempts"
    )
    assert failed["attempts"] == 3 and "451" in failed["last_error"]
    assert notif_db["send_attempts"].count_documents({"email_id": failed["_id"]}) == 3
    assert smtp.mail.count() == 0  # not a result email: no alert
