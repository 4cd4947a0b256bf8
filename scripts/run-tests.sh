#!/usr/bin/env bash
# Runs the test suite, with a PostgreSQL server started for the storage tests and Chromium
# installed for the browser tests of the report (its path exported as TUNELAB_TEST_CHROMIUM).
# In CI (CI=true) both must be there; elsewhere their tests are skipped if they cannot be.
set -uo pipefail
python=${1:?path to the python of the virtual environment}
shift
here=$(cd "$(dirname "$0")" && pwd)
pgdir=$(mktemp -d /tmp/tunelab-pg.XXXXXX)
chmod 755 "$pgdir"
trap '"$here/postgres.sh" stop "$pgdir"' EXIT

if url=$("$here/postgres.sh" start "$pgdir"); then
  export TUNELAB_TEST_POSTGRES_URL="$url"
  # A shell command that restarts that server: the reconnection tests run it mid-study.
  TUNELAB_TEST_POSTGRES_RESTART=$(printf '%q restart %q' "$here/postgres.sh" "$pgdir")
  export TUNELAB_TEST_POSTGRES_RESTART
elif [ "${CI:-}" = true ]; then
  echo "error: could not start PostgreSQL for the storage tests" >&2
  exit 1
else
  echo "PostgreSQL could not be started: its tests will be skipped" >&2
fi

if browser=$("$here/chromium.sh"); then
  export TUNELAB_TEST_CHROMIUM="$browser"
elif [ "${CI:-}" = true ]; then
  echo "error: could not install Chromium for the browser tests of the report" >&2
  exit 1
else
  echo "Chromium could not be installed: the browser tests of the report will be skipped" >&2
fi
"$python" -m pytest -q "$@"
