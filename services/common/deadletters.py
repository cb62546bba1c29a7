"""The dead-letter queue: where a message that keeps failing ends, to be
inspected and replayed by an organiser, never dropped silently."""

import json
from collections.abc import Iterator
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


def replay(amqp_uri: str, limit: int = 100) -> list[Doc]:
    """Send dead letters back to the handler that gave up on each (its own
    queue, through the default exchange), not to every consumer of the event.
    Returns what was replayed."""
    replayed = []
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        channel = connection.channel()
        producer = connection.Producer(channel)
        for message in _dead_letters(channel, limit):
            letter = _describe(message)
            producer.publish(
                letter["payload"],
                exchange="",
                routing_key=consumer_queue(letter),
                serializer="json",
                delivery_mode=2,
            )
            message.ack()  # only once the broker confirmed the republish
            replayed.append(letter)
        channel.close()
    return replayed
