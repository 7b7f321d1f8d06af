#!/usr/bin/env bash
# Runs every benchmark of the build in $1 (default build-bench).
set -euo pipefail
build=${1:-build-bench}
"$build/bench/bench_ingest" "${@:2}"
if [ -x "$build/bench/bench_queue_sim" ]; then
  echo
  "$build/bench/bench_queue_sim"
fi
