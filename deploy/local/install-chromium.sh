#!/usr/bin/env bash
# Headless Chromium for the page tests (Debian's `chromium` package).
# Idempotent: does nothing when a chromium binary is already on the PATH.
# Prints the binary's path on success; exits 1 (with the reason on stderr)
# when it cannot be installed (not root, no apt-get, no network).
set -euo pipefail

find_chromium() {
    local c
    for c in "${CHROMIUM:-}" chromium chromium-browser; do
        [ -n "$c" ] && command -v "$c" 2>/dev/null && return 0
    done
    return 1
}

if find_chromium; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "install-chromium: chromium is missing and apt-get as root is not available" >&2
    exit 1
fi
echo "install-chromium: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
find_chromium
