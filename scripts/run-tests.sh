#!/usr/bin/env bash
# Runs every test suite against the build in $1 (default: build): C++ (CTest),
# then the Python and Node binding suites — each recorded into baton by the
# binding's own harness integration, with the JUnit it writes validated — and
# finally every scripts/tests.d/*.sh (end-to-end, sanitizers, ABI, ...).
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
failed=()
reports="$build/test-reports"
mkdir -p "$reports"

# A throwaway PostgreSQL server for the PostgreSQL store's tests and every
# later suite, unless the caller brings its own in BATON_PG_DSN.
source scripts/pg-env.sh
pg_env_start || failed+=("pg-server")

echo "== C++ tests (CTest)"
ctest --test-dir "$build" --output-on-failure -j2 || failed+=("ctest")

lib="$build/libbaton.so"
export BATON_LIBRARY="$lib"

validate_junit() {  # FILE NAME
  if xmllint --noout --schema tests/data/junit.xsd "$1"; then
    echo "$2: JUnit $1 validates"
  else
    failed+=("$2-junit")
  fi
}

if [ -f bindings/python/baton/unittest.py ]; then
  echo "== Python binding (recorded by baton.unittest)"
  rm -f "$reports/python.db"*
  if (cd bindings/python && PYTHONPATH="$PWD" PYTHONDONTWRITEBYTECODE=1 \
        python3 -m baton.unittest discover -s tests -t . --db "$reports/python.db" \
        --run "python-binding" --junit "$reports/junit-python.xml"); then
    validate_junit "$reports/junit-python.xml" python
  else
    failed+=("python")
  fi
fi

if [ -f bindings/node/package.json ]; then
  echo "== Node binding (recorded by the baton node:test reporter)"
  rm -f "$reports/node.db"*
  if (cd bindings/node && { [ -d node_modules/koffi ] || npm ci --no-audit --no-fund --silent; } &&
        BATON_DB="$reports/node.db" BATON_RUN="node-binding" BATON_JUNIT="$reports/junit-node.xml" \
        node --test --test-reporter=spec --test-reporter-destination=stdout \
             --test-reporter=./reporter.js --test-reporter-destination="$reports/node-reporter.log" \
             test/*.test.js); then
    validate_junit "$reports/junit-node.xml" node
  else
    failed+=("node")
  fi
fi

for t in scripts/tests.d/*.sh; do
  [ -f "$t" ] || continue
  # BATON_SANITIZERS=0 leaves out the two sanitizer builds, for a quick run;
  # `make test` and CI run them.
  if [ "$(basename "$t")" = sanitizers.sh ] && [ "${BATON_SANITIZERS:-1}" = 0 ]; then
    echo "== sanitizers.sh: skipped (BATON_SANITIZERS=0)"
    continue
  fi
  echo "== $(basename "$t")"
  BATON_BUILD="$build" bash "$t" || failed+=("$(basename "$t")")
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all test suites passed"
