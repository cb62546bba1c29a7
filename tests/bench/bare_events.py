"""Event throughput with nothing of ours in the way, the baselines of the
lifecycle's event throughput (tests/bench/national.py runs it as a
subprocess, on the run's vhost, with the payload size of the lifecycle's
events):

  nameko: `--count` events dispatched with nameko's standalone dispatcher to a
          service whose handler only counts them (ServiceContainer, default
          max_workers), timed from the first dispatch to the last handled;
  kombu:  `--count` messages published with confirms to a queue, then consumed
          (acked one by one): publish, consume and end-to-end rates.

    .venv/bin/python tests/bench/bare_events.py --amqp-uri amqp://... [--count 2000]
Prints one JSON line: {"nameko": ev/s, "kombu_publish": msg/s, "kombu_consume": msg/s, "kombu": msg/s}.
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from kombu import Connection, Consumer, Exchange, Producer, Queue  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from nameko.events import event_handler  # noqa: E402
from nameko.standalone.events import event_dispatcher  # noqa: E402

HANDLED = [0]


class Bare:
    name = "bench_bare"

    @event_handler("bench_source", "ping")
    def ping(self, payload):
        HANDLED[0] += 1


def nameko_rate(uri, count, payload):
    container = ServiceContainer(Bare, {"AMQP_URI": uri})
    container.start()
    try:
        dispatch = event_dispatcher({"AMQP_URI": uri})
        started = time.perf_counter()
        for n in range(count):
            dispatch("bench_source", "ping", dict(payload, n=n))
        deadline = time.monotonic() + 300
        while HANDLED[0] < count and time.monotonic() < deadline:
            eventlet.sleep(0.01)
        return HANDLED[0] / (time.perf_counter() - started)
    finally:
        container.stop()


def kombu_rates(uri, count, payload):
    exchange = Exchange(f"bench_kombu_{uuid.uuid4().hex[:6]}", "topic", durable=False, auto_delete=True)
    queue = Queue(f"{exchange.name}_q", exchange, routing_key="ping", durable=False, auto_delete=False)
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        queue(conn.channel()).declare()
        producer = Producer(conn.channel(), exchange=exchange, serializer="json")
        started = time.perf_counter()
        for n in range(count):
            producer.publish(dict(payload, n=n), routing_key="ping")
        published = time.perf_counter() - started
        got = [0]

        def on_message(body, message):
            got[0] += 1
            message.ack()

        channel = conn.channel()
        channel.basic_qos(0, 10, False)
        began = time.perf_counter()
        with Consumer(channel, queues=[queue], callbacks=[on_message], accept=["json"]):
            while got[0] < count:
                conn.drain_events(timeout=30)
        consumed = time.perf_counter() - began
        queue(conn.channel()).delete()
    return count / published, count / consumed, count / (published + consumed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--amqp-uri", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    )
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--payload-bytes", type=int, default=1000)
    args = parser.parse_args()
    payload = {"event_id": "x", "pad": "x" * args.payload_bytes}
    nameko = nameko_rate(args.amqp_uri, args.count, payload)
    publish, consume, end_to_end = kombu_rates(args.amqp_uri, args.count, payload)
    print(
        json.dumps(
            {"nameko": nameko, "kombu_publish": publish, "kombu_consume": consume, "kombu": end_to_end}
        )
    )


if __name__ == "__main__":
    main()
