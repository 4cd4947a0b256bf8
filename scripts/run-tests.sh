#!/usr/bin/env bash
# Runs the checks `make test` promises, in order: ruff (lint), mypy (types), the whole test suite
# with a PostgreSQL server started for the storage tests and Chromium installed for the browser
# tests of the report (its path exported as TUNELAB_TEST_CHROMIUM), then the numerically
# sensitive tests again on two other math paths of the CPU, so that a test that only holds on
# this machine's instruction set fails here rather than on someone else's.
# In CI (CI=true) PostgreSQL and Chromium must be there; elsewhere their tests are skipped if
# they cannot be. Every step runs; the exit status is non-zero if any failed.
set -uo pipefail
python=${1:?path to the python of the virtual environment}
shift
here=$(cd "$(dirname "$0")" && pwd)
bin=$(dirname "$python")
cd "$here/.."

# The tests that train models or fit surrogates: their numbers depend on how the CPU sums.
SENSITIVE=(tests/analysis tests/torch tests/samplers tests/integrations)

failed=()
step() {
  local name=$1
  shift
  echo "== $name" >&2
  "$@" || failed+=("$name")
}

step "ruff" "$bin/ruff" check .
step "mypy" "$bin/mypy"

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

step "pytest" "$python" -m pytest -q "$@"
# MKL's conditional numerical reproducibility in its portable mode, and ATen's kernels
# without AVX2/AVX-512: the summation orders other CPUs use.
# Tests marked any_cpu_math (memory bounds, worker processes) would only repeat themselves.
step "pytest, MKL_CBWR=COMPATIBLE" \
  env MKL_CBWR=COMPATIBLE "$python" -m pytest -q -m "not any_cpu_math" "${SENSITIVE[@]}"
step "pytest, ATEN_CPU_CAPABILITY=default" \
  env ATEN_CPU_CAPABILITY=default "$python" -m pytest -q -m "not any_cpu_math" "${SENSITIVE[@]}"

if [ ${#failed[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "all checks passed" >&2
