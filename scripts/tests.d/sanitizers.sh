#!/usr/bin/env bash
# The C++ test suite under ASan+UBSan (build-asan) and under TSan (build-tsan).
# Both run even when the first fails, so one `make test` shows every finding.
# `make test` (scripts/run-tests.sh) runs this unless BATON_SANITIZERS=0.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
failed=()
# Under `make test` the server of scripts/run-tests.sh is reused; on its own
# (`make test-sanitizers`) this starts one for the PostgreSQL store's tests.
source "$root/scripts/pg-env.sh"
pg_env_start || failed+=("pg-server")
for kind in asan tsan; do
  echo "-- sanitizer: $kind"
  start=$(date +%s)
  bash "$root/scripts/sanitize.sh" "$kind" || failed+=("$kind")
  echo "-- sanitizer: $kind took $(( $(date +%s) - start )) s"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitizers: FAILED under ${failed[*]}"
  exit 1
fi
