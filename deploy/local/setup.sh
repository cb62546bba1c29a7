#!/usr/bin/env bash
# Creates .venv (Python 3.11) with the project installed in editable mode plus
# its test extras. Idempotent: does nothing when pyproject.toml is unchanged
# since the last successful run (stamp file keyed on its hash).
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${VENV:-.venv}
STAMP="$VENV/.labelvi-setup-stamp"

find_python() {
    local c
    for c in "${PYTHON:-}" python3.11 /usr/bin/python3.11 python3; do
        [ -n "$c" ] || continue
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            echo "$c"; return 0
        fi
    done
    return 1
}

want=$(cat pyproject.toml deploy/local/setup.sh | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    exit 0
fi

PY=$(find_python) || {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "setup: installing python3.11 with apt-get" >&2
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv >/dev/null
        PY=$(find_python)
    else
        echo "setup: Python 3.11 not found (set PYTHON=/path/to/python3.11)" >&2; exit 1
    fi
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $PY" >&2
    if ! "$PY" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        # Debian's python3.11 ships venv/ensurepip separately.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11-venv >/dev/null
        fi
        "$PY" -m venv "$VENV"
    fi
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
echo "setup: installing the project and its test dependencies into $VENV" >&2
# nameko 2.14's CLI imports pkg_resources, removed from setuptools 81.
"$VENV/bin/python" -m pip install -q 'setuptools>=65,<81' wheel
"$VENV/bin/python" -m pip install -q -e '.[test]' 'setuptools>=65,<81'
"$VENV/bin/python" -c 'import pkg_resources, nameko, pymongo, aiosmtpd, supervisor' 2>/dev/null \
    || { echo "setup: the environment is incomplete" >&2; exit 1; }
echo "$want" > "$STAMP"
echo "setup: $VENV ready" >&2
