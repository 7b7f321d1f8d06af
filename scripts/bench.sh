#!/usr/bin/env bash
# Runs every benchmark of the build in $1 (default build-bench); bench_ingest
# measures three rounds and reports medians (a later --rounds wins); more
# arguments go to bench_ingest. With BATON_PG_DSN set (a PostgreSQL server,
# e.g. from scripts/pg-server.sh), the ingest and claim benchmarks add rows
# for the PostgreSQL store.
#
# The queue benchmarks run first: bench_ingest's growth rows write and delete
# gigabytes, and the store bench_claim measured right after them was slower
# in every such run (16,756 and 22,674 specs/s, and 42,598 with a sync
# between, against 70,055-82,476 in runs of bench_claim alone).
set -euo pipefail
build=${1:-build-bench}
pg=()
[ -n "${BATON_PG_DSN:-}" ] && pg=(--pg "$BATON_PG_DSN")
"$build/bench/bench_claim" "${pg[@]}"
if [ -x "$build/bench/bench_queue_sim" ]; then
  echo
  "$build/bench/bench_queue_sim"
fi
echo
"$build/bench/bench_ingest" --rounds 3 "${pg[@]}" "${@:2}"
