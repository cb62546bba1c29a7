#!/usr/bin/env bash
# RabbitMQ from Debian's rabbitmq-server package, run without systemd.
#
#   rabbitmq.sh install   install the package when missing (apt-get)
#   rabbitmq.sh start     install if needed, enable the management plugin,
#                         start the node when not running, wait until it is up
#   rabbitmq.sh stop      stop the node, only if one of our scripts started it
#                         and no other run still uses it (see `hold`)
#   rabbitmq.sh hold CMD  run CMD holding a shared lock that keeps `stop` from
#                         stopping the node under it
#   rabbitmq.sh status
#
# RabbitMQ is machine-wide (ports 5672, 15672, 25672, epmd 4369), so the
# bookkeeping lives in $LABELVI_RUN_DIR (default /tmp/labelvi), shared by every
# checkout on the machine.
set -euo pipefail

RUN_DIR=${LABELVI_RUN_DIR:-/tmp/labelvi}
LOCK=$RUN_DIR/rabbitmq.lock
OURS=$RUN_DIR/rabbitmq.started-by-labelvi
SBIN=/usr/sbin
CTL=$SBIN/rabbitmqctl
PLUGINS=$SBIN/rabbitmq-plugins
SERVER=$SBIN/rabbitmq-server
ENABLED_PLUGINS=/etc/rabbitmq/enabled_plugins
START_TIMEOUT=${RABBITMQ_START_TIMEOUT:-120}

say() { echo "rabbitmq: $*" >&2; }

installed() {
    dpkg-query -W -f='${Status}' rabbitmq-server 2>/dev/null | grep -q 'install ok installed' \
        && [ -x "$SERVER" ] && [ -x "$CTL" ]
}

install() {
    installed && return 0
    if [ "$(id -u)" != 0 ]; then
        say "rabbitmq-server is not installed; run as root or: sudo apt-get install rabbitmq-server"
        exit 1
    fi
    say "installing Debian's rabbitmq-server (apt-get)"
    local start=$SECONDS
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
    installed || { say "installation failed"; exit 1; }
    say "installed in $((SECONDS - start))s"
    # Without systemd the package's post-install may or may not have started a
    # node; if it did, it is ours to stop.
    if running; then mkdir -p "$RUN_DIR"; date > "$OURS"; fi
}

running() { "$CTL" -q ping >/dev/null 2>&1; }

epmd_running() { pgrep -x epmd >/dev/null 2>&1; }

management_up() {
    python3 - <<'PY' 2>/dev/null
import base64, sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:15672/api/overview",
                             headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()})
try:
    sys.exit(0 if urllib.request.urlopen(req, timeout=3).status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

enable_management() {
    if [ -f "$ENABLED_PLUGINS" ] && grep -q rabbitmq_management "$ENABLED_PLUGINS"; then
        return 0
    fi
    say "enabling the management plugin (HTTP API on 15672, used by nameko's test fixtures)"
    if running; then
        "$PLUGINS" -q enable rabbitmq_management >/dev/null
    else
        "$PLUGINS" -q enable --offline rabbitmq_management >/dev/null
    fi
}

start() {
    install
    mkdir -p "$RUN_DIR"
    enable_management
    if ! running; then
        say "starting the node (logs in /var/log/rabbitmq/)"
        # The Debian wrapper switches to the rabbitmq user when run as root.
        "$SERVER" -detached >/dev/null 2>&1 || true
        date > "$OURS"
    fi
    local deadline=$((SECONDS + START_TIMEOUT))
    until running && "$CTL" -q await_startup --timeout 10 >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            say "node did not start within ${START_TIMEOUT}s; tail of its log:"
            tail -n 30 /var/log/rabbitmq/*.log 2>/dev/null >&2 || true
            exit 1
        fi
        sleep 1
    done
    until management_up; do
        if [ $SECONDS -ge $deadline ]; then
            say "management API on 127.0.0.1:15672 did not answer within ${START_TIMEOUT}s"
            exit 1
        fi
        sleep 1
    done
    say "up (amqp://guest:guest@127.0.0.1:5672/, management http://127.0.0.1:15672/)"
}

stop() {
    if [ ! -f "$OURS" ]; then
        running && say "leaving the node running: it was not started by these scripts"
        return 0
    fi
    mkdir -p "$RUN_DIR"
    exec 9>"$LOCK"
    if ! flock -x -n 9; then
        say "leaving the node running: another run still uses it"
        return 0
    fi
    if running; then
        say "stopping the node"
        "$CTL" -q stop >/dev/null 2>&1 || true
    fi
    # rabbitmqctl stop returns once the node is down; make sure the VM is gone.
    local i
    for i in $(seq 1 30); do
        pgrep -u rabbitmq -f 'beam.*rabbit' >/dev/null 2>&1 || break
        sleep 0.5
    done
    pkill -KILL -u rabbitmq -f 'beam.*rabbit' 2>/dev/null || true
    pkill -u rabbitmq -x erl_child_setup 2>/dev/null || true
    # epmd (Erlang's port mapper) outlives the node, and any rabbitmqctl call
    # starts one: stop it when no Erlang node is registered with it any more.
    if epmd_running && ! epmd -names 2>/dev/null | grep -q '^name '; then
        epmd -kill >/dev/null 2>&1 || true
    fi
    rm -f "$OURS"
    say "stopped"
}

hold() {
    mkdir -p "$RUN_DIR"
    exec flock -s "$LOCK" "$@"
}

status() {
    if running; then echo "rabbitmq: running"; else echo "rabbitmq: stopped"; fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    hold) shift; hold "$@" ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|hold CMD...|status" >&2; exit 2 ;;
esac
