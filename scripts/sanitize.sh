#!/usr/bin/env bash
# Builds the C++ tests with a sanitizer and runs them with CTest.
#
#   scripts/sanitize.sh asan   build-asan: -DBATON_SANITIZE=address,undefined
#   scripts/sanitize.sh tsan   build-tsan: -DBATON_SANITIZE=thread
#   scripts/sanitize.sh asan -R fault    (extra arguments go to ctest)
#
# The trees live next to the sources and are reused, so only the first run
# compiles everything (ccache, when present, shares objects across trees).
# Tools, examples and bindings are not built. Every CTest test runs, in both
# trees; the crash test runs with a few kills ($BATON_SANITIZE_KILLS, default
# 3) and the concurrency test with fewer messages, because instrumented code
# is 3-15x slower and the point here is the instrumentation, not the volume.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-}
shift || true
case "$kind" in
  asan) sanitize="address,undefined" ;;
  tsan) sanitize="thread" ;;
  *)
    echo "usage: $0 asan|tsan [ctest arguments]" >&2
    exit 64
    ;;
esac
build="$root/build-$kind"
jobs=${BATON_SANITIZE_JOBS:-2}

# Clang when the machine has it (`make test` installs it): it compiles the
# instrumented trees two to three times faster than GCC 12, whose ASan+UBSan
# pass takes 25 s on orchestrator.cc against clang's 11. $CC/$CXX override.
if [ -z "${CXX:-}" ] && command -v clang++ >/dev/null && command -v clang >/dev/null; then
  export CC=clang CXX=clang++
fi
# CMake keeps the compiler a tree was first configured with, whatever $CXX
# says now; a tree made with another compiler (say GCC, before clang was
# installed) is started afresh so that the flags below match its compiler.
if [ -n "${CXX:-}" ] && [ -f "$build/CMakeCache.txt" ]; then
  cached=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
  if [ "$(readlink -f "$cached")" != "$(readlink -f "$(command -v "$CXX")")" ]; then
    echo "-- $kind: $build was made with $cached, not $CXX: starting it afresh"
    rm -rf "$build"
  fi
fi
# GCC 12 reports -Wmaybe-uninitialized inside libstdc++ (<regex>, std::function)
# once ASan instruments it: false positives in system headers that -Werror would
# turn into a failed build. Every other warning stays an error.
extra_flags=""
if "${CXX:-c++}" -v 2>&1 | grep -q "^gcc version"; then
  extra_flags="-Wno-maybe-uninitialized"
fi
# -O1 -g1 (line tables: file and line in every report) instead of
# RelWithDebInfo's -O2 -g, which is what makes two more trees affordable in
# `make test`: it halves the compile time (docs/reliability.md has the numbers).
# No -DNDEBUG: checks that release builds compile out stay in.
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Sanitize -DBATON_WERROR=ON \
  -DCMAKE_CXX_FLAGS_SANITIZE="-O1 -g1" -DCMAKE_C_FLAGS_SANITIZE="-O1 -g1" \
  -DCMAKE_CXX_FLAGS="$extra_flags" \
  -DBATON_SANITIZE="$sanitize" -DBATON_BUILD_TOOLS=OFF -DBATON_BUILD_EXAMPLES=OFF \
  -DBATON_BUILD_BENCH=OFF -DBATON_BUILD_FUZZ=OFF >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
build_start=$SECONDS
cmake --build "$build" -j"$jobs"
echo "-- $kind: build took $((SECONDS - build_start)) s"

export BATON_CRASH_KILLS=${BATON_SANITIZE_KILLS:-3}
export BATON_CONCURRENCY_MESSAGES=${BATON_CONCURRENCY_MESSAGES:-600}
# Every report is fatal and comes with a full stack.
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
if [ "$kind" = tsan ] && [ -f "$root/tests/reliability/tsan.supp" ]; then
  export TSAN_OPTIONS="$TSAN_OPTIONS:suppressions=$root/tests/reliability/tsan.supp"
fi

# One test at a time: TSan's shadow memory and two builds' worth of tests
# at once would swap on a small machine.
ctest --test-dir "$build" --output-on-failure -j1 "$@"
