#!/usr/bin/env bash
# Chromium for the browser tests of the HTML report.
#   scripts/chromium.sh   prints the path of the chromium command on stdout, installing the
#                         Debian package chromium first when it is missing (as root, like
#                         scripts/postgres.sh installs PostgreSQL)
set -euo pipefail

# A browser named by TUNELAB_TEST_CHROMIUM wins; then the names tests/report/chromium.py tries.
find_binary() {
  if [ -n "${TUNELAB_TEST_CHROMIUM:-}" ]; then command -v "$TUNELAB_TEST_CHROMIUM" && return; fi
  command -v chromium || command -v chromium-browser || command -v google-chrome || true
}

install_chromium() {
  [ "$(id -u)" = 0 ] || { echo "Chromium is not installed and this is not root" >&2; return 1; }
  echo "installing the Debian package chromium..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
}

binary=$(find_binary)
if [ -z "$binary" ]; then
  install_chromium
  binary=$(find_binary)
fi
if [ -z "$binary" ]; then
  echo "the Debian package chromium installed no chromium command" >&2
  exit 1
fi
echo "$binary"
