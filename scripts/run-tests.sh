#!/usr/bin/env bash
# Runs every test suite against the build in $1 (default: build):
# C++ (CTest), then each binding's suite when it is present.
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
failed=()

echo "== C++ tests (CTest)"
ctest --test-dir "$build" --output-on-failure -j2 || failed+=("ctest")

lib=$(ls "$build"/libbaton.so 2>/dev/null | head -1)
if [ -x bindings/python/run_tests.sh ]; then
  echo "== Python binding"
  BATON_LIBRARY="$root/$lib" bash bindings/python/run_tests.sh "$root/$lib" || failed+=("python")
fi
if [ -f bindings/node/package.json ]; then
  echo "== Node binding"
  (cd bindings/node && { [ -d node_modules/koffi ] || npm ci --no-audit --no-fund --silent; } \
     && BATON_LIBRARY="$root/$lib" npm test --silent) || failed+=("node")
fi
for t in scripts/tests.d/*.sh; do
  [ -f "$t" ] || continue
  echo "== $(basename "$t")"
  BATON_BUILD="$root/$build" bash "$t" || failed+=("$(basename "$t")")
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all test suites passed"
