#!/usr/bin/env bash
# Local stack under supervisord: RabbitMQ (machine-wide, deploy/local/rabbitmq.sh),
# with FERRETDB_BACKEND=postgresql the PostgreSQL cluster under var/postgres/
# (deploy/local/postgres.sh, backend.py), then FerretDB, SMTP capture, the
# topology one-shot and the five services (deploy/local/procs.py). Logs in
# var/log/, captured mail in var/mail/.
#
#   stack.sh up     start in the background, return once GET /health is green
#   stack.sh run    the same in the foreground with the logs; Ctrl-C stops all
#   stack.sh down   stop everything `up`/`run` started
#   stack.sh status
set -euo pipefail
cd "$(dirname "$0")/../.."

ROOT=$PWD
PY=.venv/bin/python
CONF=var/run/supervisord.conf
PIDFILE=var/run/supervisord.pid
PORT=${GATEWAY_PORT:-8000}
HEALTH_URL="http://127.0.0.1:${PORT}/health"
UP_TIMEOUT=${UP_TIMEOUT:-180}

say() { echo "stack: $*" >&2; }

supervisord_alive() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

BACKEND=
prepare() {
    deploy/local/setup.sh
    if [ -z "${MONGODB_URI:-}" ]; then
        BACKEND=$("$PY" -m deploy.local.backend)
        deploy/local/build-mongo.sh
    fi
    deploy/local/rabbitmq.sh start
    if [ "$BACKEND" = postgresql ]; then
        # held (shared) from before the start until supervisord holds it: no `stop` in between
        exec 8>>"$(deploy/local/postgres.sh lockfile)"
        flock -s 8
        deploy/local/postgres.sh start # procs.py creates the database
    fi
}

start_supervisord() {
    if supervisord_alive; then
        say "already running (supervisord pid $(cat "$PIDFILE")); \`make down\` first to restart"
        return 0
    fi
    "$PY" -m deploy.local.procs supervisord-conf >/dev/null
    # each run starts with fresh logs; the previous run's are kept in var/log/previous/
    mkdir -p var/log/previous
    local f
    for f in var/log/*.log; do
        case "$f" in var/log/test-*) ;; *) [ -e "$f" ] && mv -f "$f" var/log/previous/ ;; esac
    done
    # Holding the shared RabbitMQ lock for supervisord's lifetime keeps another
    # run's `rabbitmq.sh stop` from stopping the node under us.
    # With PostgreSQL, the cluster's lock likewise (deploy/local/postgres.sh).
    local hold_pg=()
    [ "$BACKEND" != postgresql ] || hold_pg=(deploy/local/postgres.sh hold)
    setsid nohup deploy/local/rabbitmq.sh hold "${hold_pg[@]}" "$ROOT/.venv/bin/supervisord" -c "$CONF" \
        >var/log/supervisord.out 2>&1 </dev/null 8>&- &
    local i
    for i in $(seq 1 50); do supervisord_alive && break; sleep 0.2; done
    supervisord_alive || { say "supervisord did not start:"; cat var/log/supervisord.out >&2; exit 1; }
    say "supervisord started (pid $(cat "$PIDFILE")), logs in var/log/"
}

health_ok() {
    "$PY" - "$HEALTH_URL" <<'PY' 2>/dev/null
import json, sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
        body = json.loads(r.read() or b"{}")
        sys.exit(0 if r.status == 200 and body.get("status") == "ok" else 1)
except Exception:
    sys.exit(1)
PY
}

wait_healthy() {
    local deadline=$((SECONDS + UP_TIMEOUT))
    say "waiting for $HEALTH_URL (up to ${UP_TIMEOUT}s)"
    until health_ok; do
        if [ $SECONDS -ge $deadline ] || ! supervisord_alive; then
            say "not healthy after ${UP_TIMEOUT}s; process states and the tail of the logs:"
            .venv/bin/supervisorctl -c "$CONF" status >&2 || true
            local f
            for f in var/log/*.log; do
                [ -s "$f" ] || continue
                echo "----- $f" >&2
                tail -n 15 "$f" >&2
            done
            say "the stack is left running for inspection; \`make down\` stops it"
            return 1
        fi
        sleep 1
    done
    say "healthy: $HEALTH_URL  (API http://127.0.0.1:${PORT}/api/v1, mail in var/mail/)"
}

down() {
    exec 8>&- # our own hold on the cluster (prepare), if any
    if supervisord_alive; then
        local pid; pid=$(cat "$PIDFILE")
        say "stopping supervisord (pid $pid) and its programs"
        # `stop all` signals every program at once (shutdown alone stops them one by one)
        .venv/bin/supervisorctl -c "$CONF" stop all >/dev/null 2>&1 || true
        .venv/bin/supervisorctl -c "$CONF" shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
        local i
        for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            say "supervisord still alive after 30s: killing its process group"
            kill -KILL -- "-$(ps -o pgid= "$pid" | tr -d ' ')" 2>/dev/null || true
        fi
    fi
    rm -f var/run/topology.done
    # The flock holder exits with supervisord; give it a moment before we try the exclusive lock.
    sleep 0.3
    deploy/local/postgres.sh stop # a no-op unless the cluster runs and no other run holds it
    deploy/local/rabbitmq.sh stop
}

case "${1:-}" in
    up)
        prepare
        start_supervisord
        wait_healthy
        ;;
    run)
        prepare
        start_supervisord
        logs=$(ls var/log/*.log | grep -v '/test-')
        # shellcheck disable=SC2086
        tail -n +1 -F $logs 2>/dev/null &
        tail_pid=$!
        stop_all() { trap - INT TERM EXIT; kill "$tail_pid" 2>/dev/null || true; echo >&2; down; }
        trap 'stop_all; exit 0' INT TERM
        trap stop_all EXIT
        wait_healthy || true
        say "running in the foreground; Ctrl-C stops everything"
        wait "$tail_pid"
        ;;
    down) down ;;
    status)
        if supervisord_alive; then .venv/bin/supervisorctl -c "$CONF" status || true; else echo "stack: not running"; fi
        deploy/local/rabbitmq.sh status
        deploy/local/postgres.sh status
        ;;
    *) echo "usage: $0 up|run|down|status" >&2; exit 2 ;;
esac
