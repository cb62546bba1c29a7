"""The dead-letter queue: where a message that keeps failing ends, to be
inspected and replayed by an organiser, never dropped silently."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection, Exchange, Queue

from services.common.clock import isoformat, utcnow
from services.common.contracts import handler_queue
from services.common.types import Doc

DEAD_LETTER_EXCHANGE = Exchange("label.dead-letters", type="direct", durable=True)
DEAD_LETTER_QUEUE = Queue(
    "label.dead-letters", exchange=DEAD_LETTER_EXCHANGE, routing_key="dead-letter", durable=True
)


def dead_letter(
    publisher: Any,
    payload: object,
    *,
    source: str,
    event: str,
    consumer: str,
    handler: str,
    error: str,
    attempts: int,
) -> None:
    """Publish one failed message to the dead-letter queue (confirmed)."""
    publisher.publish(
        payload,
        exchange=DEAD_LETTER_EXCHANGE,
        routing_key="dead-letter",
        declare=[DEAD_LETTER_QUEUE],
        headers={
            "x-source-service": source,
            "x-event": event,
            "x-consumer": consumer,
            "x-handler": handler,
            "x-error": error[:2000],
            "x-attempts": attempts,
            "x-failed-at": isoformat(utcnow()),
        },
    )


def _describe(message: Any) -> Doc:
    headers = message.headers or {}
    return {
        "source": headers.get("x-source-service"),
        "event": headers.get("x-event"),
        "consumer": headers.get("x-consumer"),
        "handler": headers.get("x-handler"),
        "error": headers.get("x-error"),
        "attempts": headers.get("x-attempts"),
        "failed_at": headers.get("x-failed-at"),
        "payload": json.loads(message.body) if isinstance(message.body, (str, bytes)) else message.body,
    }


def _dead_letters(channel: Any, limit: int) -> Iterator[Any]:
    """Yield up to `limit` unacknowledged dead letters, only among those in
    the queue now: a replayed message that fails again lands behind them and
    is not taken a second time by the same replay."""
    queue = DEAD_LETTER_QUEUE(channel)
    _, waiting, _ = queue.queue_declare()
    for _ in range(min(limit, waiting)):
        message = queue.get(no_ack=False)
        if message is None:
            return
        yield message


def consumer_queue(letter: Doc) -> str:
    """The queue of the one handler that gave up on this message (nameko's name)."""
    return handler_queue(letter["source"], letter["event"], letter["consumer"], letter["handler"])


def peek(amqp_uri: str, limit: int = 100) -> list[Doc]:
    """Read up to `limit` dead letters without removing them (they are
    requeued when the channel closes unacknowledged)."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        found = [_describe(message) for message in _dead_letters(channel, limit)]
        channel.close()
    return found


@dataclass
class ReplayOutcome:
    """What a replay did: letters republished (and removed from the queue),
    and letters kept in the queue, each with `reason`, a French sentence."""

    replayed: list[Doc] = field(default_factory=list)
    kept: list[Doc] = field(default_factory=list)


def _not_replayed(letter: Doc, cause: str) -> Doc:
    handler = f"{letter.get('consumer') or '?'}.{letter.get('handler') or '?'}"
    reason = (
        f"L'événement « {letter.get('event') or '?'} » n'a pas pu être renvoyé à {handler} : "
        f"{cause}. Il reste dans les lettres mortes."
    )
    return dict(letter, reason=reason)


def replay(amqp_uri: str, limit: int = 100) -> ReplayOutcome:
    """Send dead letters back to the handler that gave up on each (its own
    queue, through the default exchange), not to every consumer of the event.
    A letter leaves the queue only once the broker confirmed that it routed
    the republished copy (mandatory + publisher confirms); one it returns
    (no such queue) or refuses stays, with the reason."""
    outcome = ReplayOutcome()
    returned: list[str] = []
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        # without this callback py-amqp raises the return inside the confirm wait
        channel.events["basic_return"].add(lambda exc, exchange, key, message: returned.append(key))
        producer = connection.Producer(channel)
        for message in _dead_letters(channel, limit):
            letter = _describe(message)
            queue = consumer_queue(letter)
            returned.clear()
            try:
                producer.publish(
                    letter["payload"],
                    exchange="",
                    routing_key=queue,
                    serializer="json",
                    delivery_mode=2,
                    mandatory=True,
                )
            except Exception as exc:  # nacked or connection trouble: the letter stays unacked
                outcome.kept.append(_not_replayed(letter, f"le serveur de messages l'a refusé ({exc})"))
                continue
            if returned:  # the broker confirms a returned message too: it was not routed
                outcome.kept.append(_not_replayed(letter, f"la file « {queue} » n'existe pas"))
                continue
            message.ack()  # routed and confirmed: only now does the letter leave the queue
            outcome.replayed.append(letter)
        channel.close()  # the kept letters, unacknowledged, go back to the queue
    return outcome
