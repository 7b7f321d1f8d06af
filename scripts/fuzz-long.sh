#!/usr/bin/env bash
# Long fuzzing campaign measured in CPU time, not wall-clock time.
#
#   scripts/fuzz-long.sh TARGET CPU_SECONDS [OUT_DIR]
#
# Runs build-fuzz/fuzz/TARGET (see docs/security.md for the fuzz tree) at low
# priority in chunks of $BATON_FUZZ_CHUNK wall-clock seconds (default 300),
# each chunk resuming from the corpus the previous ones grew, until the
# fuzzer processes have used CPU_SECONDS of CPU (user + system, from
# getrusage via /usr/bin/time). Inputs found go to OUT_DIR/TARGET (default a
# fresh temporary folder), never into the committed corpus. Prints one line
# per chunk and a total: CPU seconds, executions, corpus size, findings.
# Exit status 1 when a chunk ends with a crash, a sanitizer report or a
# timeout; the input is kept in OUT_DIR/artifacts/TARGET.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: fuzz-long.sh TARGET CPU_SECONDS [OUT_DIR]}
budget=${2:?usage: fuzz-long.sh TARGET CPU_SECONDS [OUT_DIR]}
out=${3:-$(mktemp -d "${TMPDIR:-/tmp}/baton-fuzz-long.XXXXXX")}
chunk=${BATON_FUZZ_CHUNK:-300}
binary="${BATON_FUZZ_BUILD:-$root/build-fuzz}/fuzz/$target"
[ -x "$binary" ] || { echo "fuzz-long: $binary is not built" >&2; exit 2; }

mkdir -p "$out/$target" "$out/artifacts/$target"
used=0 executions=0 round=0
while [ "$used" -lt "$budget" ]; do
  round=$((round + 1))
  log="$out/$target.$round.log"
  /usr/bin/time -f "%U %S" -o "$out/$target.$round.time" \
    nice -n 19 "$binary" "$out/$target" "$root/fuzz/corpus/$target" \
      -dict="$root/fuzz/baton.dict" -max_total_time="$chunk" -timeout=20 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$target/" >"$log" 2>&1
  status=$?
  cpu=$(awk 'END { printf "%d", $1 + $2 }' "$out/$target.$round.time")
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  used=$((used + cpu))
  executions=$((executions + ${runs:-0}))
  echo "fuzz-long: $target round $round: ${cpu}s CPU, ${runs:-0} executions (total ${used}s, $executions)"
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log"
    echo "fuzz-long: $target FAILED; input in $out/artifacts/$target"
    exit 1
  fi
done
corpus=$(find "$out/$target" -type f | wc -l)
echo "fuzz-long: $target done: ${used}s CPU, $executions executions, $corpus new corpus inputs, no findings"
