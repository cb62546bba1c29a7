"""Container healthcheck: the service answers its `health` RPC over RabbitMQ.

python -m deploy.docker_healthcheck jury     (exit 0 when {"status": "ok"})
"""

import os
import sys


def main() -> int:
    import eventlet

    eventlet.monkey_patch()
    from nameko.standalone.rpc import ClusterRpcProxy

    service = sys.argv[1]
    config = {"AMQP_URI": os.environ["AMQP_URI"]}
    try:
        with eventlet.Timeout(8):
            with ClusterRpcProxy(config, timeout=5) as proxy:
                reply = getattr(proxy, service).health()
    except BaseException as exc:  # noqa: BLE001 - a healthcheck reports, never raises
        print(f"{service}: unhealthy: {exc!r}")
        return 1
    ok = isinstance(reply, dict) and reply.get("status") == "ok"
    print(f"{service}: {reply}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
