#!/usr/bin/env bash
# `make test`: set up, start the backing services the tests need (RabbitMQ,
# and FerretDB on a free port unless MONGODB_URI is set, storing into a
# throw-away data dir, or with FERRETDB_BACKEND=postgresql into a throw-away
# database of the cluster under var/postgres/), run .venv/bin/pytest
# $PYTEST_ARGS, stop what was started (even on failure) and exit with pytest's
# code. The e2e tests start the services and
# their own SMTP capture themselves (tests/support/stack.py).
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { echo "test: $*" >&2; }

deploy/local/setup.sh
BACKEND=
if [ -z "${MONGODB_URI:-}" ]; then
    BACKEND=$(.venv/bin/python -m deploy.local.backend)
    deploy/local/build-mongo.sh
fi

FERRET_PID=
FERRET_DIR=
PG_DB=
cleanup() {
    local code=$?
    if [ -n "$FERRET_PID" ] && kill -0 "$FERRET_PID" 2>/dev/null; then
        kill -TERM "$FERRET_PID" 2>/dev/null || true
        wait "$FERRET_PID" 2>/dev/null || true
    fi
    [ -z "$FERRET_DIR" ] || rm -rf "$FERRET_DIR"
    if [ "$BACKEND" = postgresql ]; then
        [ -z "$PG_DB" ] || deploy/local/postgres.sh dropdb "$PG_DB" || true
        exec 8>&- # our hold on the cluster
        deploy/local/postgres.sh stop || true
    fi
    deploy/local/rabbitmq.sh stop || true
    exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

deploy/local/rabbitmq.sh start

if [ -z "${MONGODB_URI:-}" ]; then
    mkdir -p var/log var/tmp
    port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log=var/log/test-ferretdb.log
    if [ "$BACKEND" = postgresql ]; then
        # held (shared) until the end: another run's `postgres.sh stop` leaves the cluster running
        exec 8>>"$(deploy/local/postgres.sh lockfile)"
        flock -s 8
        deploy/local/postgres.sh start
        PG_DB=test_$(date +%s)_$$
        deploy/local/postgres.sh createdb "$PG_DB"
        where="database $PG_DB of var/postgres"
        var/bin/ferretdb-local -listen "127.0.0.1:$port" -handler postgresql \
            -postgresql-url "$(deploy/local/postgres.sh url "$PG_DB")" >"$log" 2>&1 &
    else
        FERRET_DIR=$(mktemp -d "$PWD/var/tmp/test-ferretdb.XXXXXX")
        where="data in $FERRET_DIR"
        var/bin/ferretdb-local -listen "127.0.0.1:$port" -handler sqlite -dir "$FERRET_DIR" >"$log" 2>&1 &
    fi
    FERRET_PID=$!
    for _ in $(seq 1 100); do
        .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
        kill -0 "$FERRET_PID" 2>/dev/null || { say "FerretDB exited:"; cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    export MONGODB_URI="mongodb://127.0.0.1:$port/"
    say "FerretDB ($BACKEND) on $MONGODB_URI ($where, log $log)"
fi
export AMQP_URI=${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}
# a developer's machine: the services accept the test secrets (services/common/startup.py)
export LABEL_LOCAL_MODE=${LABEL_LOCAL_MODE:-1}

set +e
# shellcheck disable=SC2086
deploy/local/rabbitmq.sh hold .venv/bin/pytest ${PYTEST_ARGS:-}
code=$?
set -e
if [ $code = 5 ] && [ -z "$(find tests -name 'test_*.py' -print -quit)" ]; then
    say "no tests yet (pytest exit code 5): treated as success"
    code=0
fi
exit $code
