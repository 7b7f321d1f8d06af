#!/usr/bin/env bash
# Fuzz targets against their committed corpus, as part of scripts/run-tests.sh.
#
# The corpus is always replayed by CTest (tests/security, the *_corpus tests)
# in the build at $BATON_BUILD. This script adds the libFuzzer binaries when a
# fuzz tree exists ($BATON_FUZZ_BUILD, default build-fuzz; see docs/security.md):
# each target replays its corpus under the sanitizers, then fuzzes for
# $BATON_FUZZ_SECONDS (default 10) from it, at low priority. Inputs the fuzzer
# finds go to a scratch folder, never into the committed corpus. A crash,
# a sanitizer report or a timeout fails the script and leaves the input in
# $scratch/artifacts for `<target> <input>` to reproduce.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz_build=${BATON_FUZZ_BUILD:-$root/build-fuzz}
seconds=${BATON_FUZZ_SECONDS:-10}
targets=(fuzz_push fuzz_validator fuzz_options fuzz_open_db)

if [ ! -x "$fuzz_build/fuzz/fuzz_validator" ]; then
  echo "fuzz: no fuzz build at $fuzz_build (the corpus replay ran in CTest); skipping"
  exit 0
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/baton-fuzz.XXXXXX")
failed=()
for target in "${targets[@]}"; do
  binary="$fuzz_build/fuzz/$target"
  corpus="$root/fuzz/corpus/$target"
  if [ ! -x "$binary" ]; then
    echo "fuzz: $target is not built in $fuzz_build"
    failed+=("$target")
    continue
  fi
  mkdir -p "$scratch/$target" "$scratch/artifacts/$target"
  echo "fuzz: $target, corpus replay then ${seconds}s"
  if ! nice -n 10 "$binary" -runs=0 "$corpus" >"$scratch/$target.replay.log" 2>&1; then
    tail -n 40 "$scratch/$target.replay.log"
    failed+=("$target")
    continue
  fi
  if ! nice -n 10 "$binary" "$scratch/$target" "$corpus" -dict="$root/fuzz/baton.dict" \
      -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$scratch/artifacts/$target/" -print_final_stats=1 \
      >"$scratch/$target.log" 2>&1; then
    tail -n 40 "$scratch/$target.log"
    failed+=("$target")
    continue
  fi
  grep -E "stat::number_of_executed_units" "$scratch/$target.log" | sed "s/^/  /"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs kept in $scratch/artifacts)"
  exit 1
fi
rm -rf "$scratch"
echo "fuzz: all targets clean"
