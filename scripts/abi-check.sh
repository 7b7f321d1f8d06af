#!/usr/bin/env bash
# The C ABI gate.
#
#   scripts/abi-check.sh BUILD_DIR          check BUILD_DIR/libbaton.so
#   scripts/abi-check.sh --self-test        prove the gate catches breaks
#   scripts/abi-check.sh --update BUILD_DIR rewrite the baseline abi/libbaton.abi
#
# The check has three parts:
#   1. libbaton.so exports only baton_* symbols (nm -D --defined-only);
#   2. its ABI, as libabigail reads it from the debug info (build with debug
#      info: RelWithDebInfo or Debug), equals the committed baseline
#      abi/libbaton.abi. abidiff fails on any difference: a removed or changed
#      function is a break; an added function is a deliberate change, so it
#      must come with `--update` in the same commit as the header change;
#   3. capi/include/baton/baton.h compiles alone as C99, C++11 and C++20 with
#      -Wall -Wextra -pedantic -Werror.
# Only the interfaces the library exports are read, with the handle types
# declared opaque in baton.h, so the core's C++ internals never show up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
baseline="$root/abi/libbaton.abi"
headers="$root/capi/include/baton"
abi_flags=(--exported-interfaces-only --drop-private-types)

usage() {
  echo "usage: $0 BUILD_DIR | --self-test | --update BUILD_DIR" >&2
  exit 64
}

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "abi-check: $1 is missing (Debian: $2)" >&2
    exit 1
  }
}

dump_abi() {  # library output
  abidw "${abi_flags[@]}" --headers-dir "$headers" --no-corpus-path --no-show-locs \
    --no-comp-dir-path --drop-undefined-syms --out-file "$2" "$1"
}

# abidiff OLD NEW [flags], printing the report; the status is abidiff's (0: same).
compare() {
  local old=$1 new=$2
  shift 2
  abidiff "${abi_flags[@]}" --no-show-locs "$@" "$old" "$new"
}

check_exports() {
  local lib=$1 others
  others=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | grep -v '^baton_' || true)
  if [ -n "$others" ]; then
    echo "abi-check: libbaton.so exports symbols outside the baton_ prefix:" >&2
    echo "$others" | head -20 >&2
    return 1
  fi
  echo "abi-check: exports: $(nm -D --defined-only "$lib" | grep -c ' baton_') baton_* symbols, nothing else"
}

check_header() {
  local tmp=$1 rc=0 src="$tmp/header_check.c"
  # Uses every kind of declaration, so that unused-but-broken ones fail too.
  cat >"$src" <<'EOF'
#include "baton/baton.h"
static int observe(void* user_data, const baton_event* ev) {
  (void)user_data;
  return baton_event_seq(ev) > 0 ? BATON_OK : BATON_EINTERNAL;
}
int header_check(void);
int header_check(void) {
  baton_observe_fn fn = observe;
  return fn != 0 && BATON_ABI_VERSION == 1 ? BATON_OK : BATON_EUSER;
}
EOF
  local cc=${CC:-cc} cxx=${CXX:-c++}
  local flags=(-Wall -Wextra -pedantic -Werror -fsyntax-only -I "$root/capi/include")
  "$cc" -std=c99 "${flags[@]}" -x c "$src" || { echo "abi-check: baton.h is not clean C99" >&2; rc=1; }
  for std in c++11 c++20; do
    "$cxx" -std=$std "${flags[@]}" -x c++ "$src" ||
      { echo "abi-check: baton.h is not clean $std" >&2; rc=1; }
  done
  [ $rc -eq 0 ] && echo "abi-check: baton.h compiles as C99, C++11 and C++20 with -Werror"
  return $rc
}

# Mutates the baseline as a library with a removed function, a changed
# function and an added function would look, and expects abidiff to refuse
# each, and to accept the baseline against itself.
self_test() {
  local tmp=$1
  need python3 python3
  python3 - "$baseline" "$tmp" <<'EOF'
import re, sys
base, out = sys.argv[1], sys.argv[2]
xml = open(base).read()
decl = re.compile(r"    <function-decl name='baton_flush'.*?</function-decl>\n", re.S)
sym = re.compile(r"    <elf-symbol name='baton_flush'[^\n]*\n")
assert decl.search(xml) and sym.search(xml), "baton_flush is not in the baseline"
removed = sym.sub("", decl.sub("", xml))
open(out + "/removed.abi", "w").write(removed)
# baton_flush(baton_engine*) -> int  becomes  baton_flush(baton_engine*) -> void
changed = decl.sub(lambda m: re.sub(r"<return type-id='[^']*'/>",
                                    "<return type-id='" + re.search(r"<type-decl name='void' id='([^']*)'", xml).group(1) + "'/>",
                                    m.group(0)), xml)
assert changed != xml
open(out + "/changed.abi", "w").write(changed)
EOF
  local fails=0
  expect() {  # want(same|differ) old new what
    local rc=0
    compare "$2" "$3" >"$tmp/report.txt" 2>&1 || rc=$?
    if { [ "$1" = same ] && [ $rc -ne 0 ]; } || { [ "$1" = differ ] && [ $rc -eq 0 ]; }; then
      echo "abi-check self-test: $4: abidiff returned $rc, expected $1" >&2
      cat "$tmp/report.txt" >&2
      fails=1
    else
      echo "abi-check self-test: $4: $1 (abidiff $rc)"
    fi
  }
  expect same "$baseline" "$baseline" "the baseline against itself"
  expect differ "$baseline" "$tmp/removed.abi" "a removed function"
  expect differ "$baseline" "$tmp/changed.abi" "a changed return type"
  expect differ "$tmp/removed.abi" "$baseline" "an added function without a new baseline"
  return $fails
}

[ $# -ge 1 ] || usage
need abidiff abigail-tools
need abidw abigail-tools
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case "$1" in
  --self-test)
    self_test "$tmp"
    ;;
  --update)
    [ $# -eq 2 ] || usage
    lib="$2/libbaton.so"
    [ -e "$lib" ] || { echo "abi-check: $lib not found" >&2; exit 1; }
    check_exports "$lib"
    mkdir -p "$(dirname "$baseline")"
    dump_abi "$lib" "$baseline"
    echo "abi-check: wrote $baseline; commit it with the header change"
    ;;
  -*)
    usage
    ;;
  *)
    lib="$1/libbaton.so"
    [ -e "$lib" ] || { echo "abi-check: $lib not found" >&2; exit 1; }
    [ -f "$baseline" ] || { echo "abi-check: no baseline $baseline (see --update)" >&2; exit 1; }
    rc=0
    check_exports "$lib" || rc=1
    if compare "$baseline" "$lib" --headers-dir2 "$headers" >"$tmp/report.txt" 2>&1; then
      echo "abi-check: ABI equals the baseline abi/libbaton.abi"
    else
      echo "abi-check: the ABI of $lib differs from abi/libbaton.abi:" >&2
      cat "$tmp/report.txt" >&2
      echo "abi-check: a removed or changed function needs a new ABI major (SOVERSION);" \
        "an intended addition needs 'scripts/abi-check.sh --update BUILD_DIR' in the same commit" >&2
      rc=1
    fi
    check_header "$tmp" || rc=1
    exit $rc
    ;;
esac
