#!/usr/bin/env bash
# A PostgreSQL cluster of our own for FerretDB's postgresql handler
# (FERRETDB_BACKEND=postgresql, deploy/local/backend.py), from Debian's
# postgresql package, run without systemd. It lives under $LABELVI_PG_DIR
# (default var/postgres; the fault suite uses its own): data/, the log
# postgres.log and the Unix socket in run/. No TCP: only the socket, mode 0700,
# so only its owner (and root) can connect, as `postgres` without a password.
#
#   postgres.sh start         install if needed, create the cluster on first use, start it, wait
#   postgres.sh stop          stop it, unless a run still uses it (see `hold`)
#   postgres.sh hold CMD...   run CMD holding a shared lock that keeps `stop` from stopping it
#   postgres.sh lockfile      the lock's path (hold it shared with flock -s, then start)
#   postgres.sh createdb DB   create database DB when missing;  dropdb DB: drop it when present
#   postgres.sh url DB        the URL FerretDB connects with (-postgresql-url)
#   postgres.sh psql [ARGS]   psql on the cluster;  status
#
# PostgreSQL refuses to run as root: when we are root, the server runs as the
# `postgres` system user (created by the package) and the directory is given to it.
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=${LABELVI_PG_DIR:-var/postgres}
mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
DATA=$BASE/data
RUN=$BASE/run
LOG=$BASE/postgres.log
LOCK=$BASE/cluster.lock
PORT=5432 # names the socket file in $RUN only: no TCP, no clash with any other server
START_TIMEOUT=${POSTGRES_START_TIMEOUT:-60}

say() { echo "postgres: $*" >&2; }

bindir() {
    local d
    for d in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    return 1
}

install() {
    bindir >/dev/null && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        say "PostgreSQL is not installed; run as root or: sudo apt-get install postgresql"
        exit 1
    fi
    say "installing Debian's postgresql (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# as_owner CMD...: run CMD as the user the server runs as.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A checkout under a directory others cannot search (/root, mktemp -d) hides
# $BASE from the postgres user. Each such ancestor gets an ACL entry letting
# that one user through (search only: it cannot list them), said aloud.
let_postgres_through() {
    if ! command -v setfacl >/dev/null; then
        say "installing Debian's acl (apt-get) to let the postgres user reach $BASE"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq acl >/dev/null
    fi
    local dir="" part
    IFS=/ read -ra parts <<<"${BASE#/}"
    for part in "${parts[@]}"; do
        dir+="/$part"
        if ! runuser -u postgres -- test -x "$dir"; then
            say "letting the postgres user search $dir (setfacl -m u:postgres:x)"
            setfacl -m u:postgres:x "$dir"
        fi
    done
    if ! runuser -u postgres -- test -w "$BASE"; then
        say "the postgres user still cannot reach $BASE"
        exit 1
    fi
}

prepare_dirs() {
    mkdir -p "$RUN"
    touch "$LOG" "$LOCK"
    if [ "$(id -u)" = 0 ]; then
        getent passwd postgres >/dev/null || { say "no \`postgres\` system user: reinstall the postgresql package"; exit 1; }
        chown postgres: "$BASE" "$RUN" "$LOG"
        chmod 0700 "$BASE"
        chmod 0666 "$LOCK" # any local user may hold it: it only delays a stop
        runuser -u postgres -- test -w "$BASE" || let_postgres_through
    fi
}

pg_ctl() { as_owner "$(bindir)/pg_ctl" -D "$DATA" "$@"; }

running() { [ -f "$DATA/postmaster.pid" ] && pg_ctl status >/dev/null 2>&1; }

init() {
    [ -f "$DATA/PG_VERSION" ] && return 0
    say "creating the cluster in $DATA"
    # C collation: byte order, as MongoDB compares strings; FerretDB accepts C with UTF8.
    as_owner "$(bindir)/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C \
        >"$BASE/initdb.log" 2>&1 || { cat "$BASE/initdb.log" >&2; exit 1; }
}

# Settings for a development and test box, given at every start so that a
# change here applies to existing clusters. Durability as in production:
# fsync and synchronous_commit stay on (a commit returns once on disk), so a
# killed server loses nothing it acknowledged (the fault suite relies on it).
SETTINGS=(
    -c listen_addresses=''
    -c "unix_socket_directories=$RUN"
    -c unix_socket_permissions=0700
    -c "port=$PORT"
    -c max_connections=200          # FerretDB's pool takes up to 50 per process
    -c shared_buffers=128MB
    -c work_mem=8MB
    -c fsync=on
    -c synchronous_commit=on
    -c wal_level=minimal -c max_wal_senders=0 # no replica: less WAL for bulk loads
    -c jit=off                      # JIT compiling costs more than it saves on short queries
    -c TimeZone=UTC
    -c log_timezone=UTC
)

start() {
    install
    prepare_dirs
    init
    if running; then return 0; fi
    say "starting the cluster (socket in $RUN, log $LOG)"
    # -o: pg_ctl hands the options to postgres through a shell
    local opts="" s
    for s in "${SETTINGS[@]}"; do opts+=" '${s//\'/}'"; done
    # The server must not inherit our caller's descriptors: a hold on the lock
    # (stack.sh, test.sh) kept open by the server would forbid every `stop`.
    if ! (
        for fd in $(seq 3 30); do eval "exec $fd>&-" 2>/dev/null || true; done
        pg_ctl -l "$LOG" -w -t "$START_TIMEOUT" -o "$opts" start >/dev/null
    ); then
        running && return 0 # started by a concurrent run
        say "did not start; the tail of $LOG:"
        tail -n 20 "$LOG" >&2
        exit 1
    fi
}

stop() {
    [ -f "$DATA/postmaster.pid" ] || return 0
    exec 9>>"$LOCK"
    if ! flock -x -n 9; then
        say "leaving the cluster running: another run still uses it"
        return 0
    fi
    if running; then
        say "stopping the cluster"
        pg_ctl -m fast -w -t 60 stop >/dev/null || pg_ctl -m immediate stop >/dev/null || true
    fi
}

psql_() { "$(bindir)/psql" -X -q -h "$RUN" -p "$PORT" -U postgres "$@"; }

createdb() {
    local db=$1
    [[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || { say "bad database name $db"; exit 2; }
    if [ -z "$(psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
        psql_ -d postgres -c "CREATE DATABASE $db" >/dev/null
    fi
}

dropdb() {
    local db=$1
    [[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || { say "bad database name $db"; exit 2; }
    running || return 0
    psql_ -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    hold) shift; prepare_dirs; exec flock -s "$LOCK" "$@" ;;
    lockfile) prepare_dirs; echo "$LOCK" ;;
    createdb) createdb "${2:?database name}" ;;
    dropdb) dropdb "${2:?database name}" ;;
    url) echo "postgres://postgres@/${2:?database name}?host=$RUN&port=$PORT" ;;
    psql) shift; psql_ "$@" ;;
    status) if running; then echo "postgres: running ($BASE)"; else echo "postgres: stopped ($BASE)"; fi ;;
    *) echo "usage: $0 start|stop|hold CMD...|lockfile|createdb DB|dropdb DB|url DB|psql [ARGS]|status" >&2; exit 2 ;;
esac
