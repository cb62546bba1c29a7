#!/usr/bin/env bash
# Builds var/bin/ferretdb-local (FerretDB v1 embedded, on PostgreSQL or SQLite storage) from
# deploy/local/mongo/. Rebuilds only when the sources or the Go version change.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=var/bin/ferretdb-local
STAMP=var/bin/.ferretdb-local.stamp
SRC=deploy/local/mongo

GO=${GO:-}
if [ -z "$GO" ]; then
    if command -v go >/dev/null 2>&1; then GO=$(command -v go)
    elif [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go
    else
        echo "build-mongo: Go (>= 1.24) not found; install it from https://go.dev/dl/ or set GO=/path/to/go" >&2
        exit 1
    fi
fi

want=$( (cd "$SRC" && cat go.mod go.sum *.go; "$GO" version) | sha256sum | cut -d' ' -f1)
if [ -x "$OUT" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi

mkdir -p var/bin
echo "build-mongo: building $OUT (first build downloads modules and takes a few minutes)" >&2
start=$(date +%s)
(cd "$SRC" && GOFLAGS=-mod=readonly "$GO" build -trimpath -o "../../../$OUT.tmp" .)
mv -f "$OUT.tmp" "$OUT"
echo "$want" > "$STAMP"
echo "build-mongo: built $OUT in $(( $(date +%s) - start ))s" >&2
