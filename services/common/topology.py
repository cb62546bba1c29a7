"""Declare every exchange and event queue before anything publishes.

nameko publishes events without `mandatory`: an event sent before its
consumer's queue exists is dropped by RabbitMQ. Running this at start-up of
the whole system (before the services) makes the queues exist from the first
event on. Names and arguments match what nameko's event_handler declares.

    python -m services.common.topology --config deploy/config.yaml
"""

import argparse
from collections.abc import Mapping
from typing import Any

from kombu import Connection, Queue
from nameko.standalone.events import get_event_exchange

from services.common.config import load_config
from services.common.contracts import SERVICES, SUBSCRIPTIONS, queue_name
from services.common.deadletters import DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE


def declare_all(amqp_uri: str, config: Mapping[str, Any] | None = None) -> list[str]:
    config = config or {}
    declared = []
    with Connection(amqp_uri) as connection:
        connection.ensure_connection(max_retries=30, interval_start=1, interval_step=1, interval_max=2)
        channel = connection.channel()
        for service in SERVICES:
            get_event_exchange(service, config)(channel).declare()
        for event, consumer, method in SUBSCRIPTIONS:
            queue = Queue(
                queue_name(event, consumer, method),
                exchange=get_event_exchange(event.source, config),
                routing_key=event.name,
                durable=True,
                auto_delete=False,
                exclusive=False,
            )
            queue(channel).declare()
            declared.append(queue.name)
        DEAD_LETTER_EXCHANGE(channel).declare()
        DEAD_LETTER_QUEUE(channel).declare()
        channel.close()
    return declared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="deploy/config.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    declared = declare_all(config["AMQP_URI"], config)
    print(f"declared {len(declared)} event queues and the dead-letter queue")


if __name__ == "__main__":
    main()
