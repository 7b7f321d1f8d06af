#!/usr/bin/env bash
# Instructions per event, counted by valgrind's callgrind: the pushing thread
# (baton_push), the writer thread (its SQLite transactions), and the
# benchmark's reference (simdjson parse + prepared insert), with the main
# parts of a push beside them.
#
# Timings on a shared 2-core machine move by 10% or more from run to run;
# instruction counts do not, so this is how two builds are compared for a
# change of a few percent. They leave out what costs time without
# instructions in user space: system calls, page faults, cache misses.
#
#   scripts/bench-instructions.sh [BUILD] [MODE] [TESTS]
#     BUILD  a build with BATON_BUILD_BENCH=ON (default build-bench)
#     MODE   in-memory, async or normal (default normal)
#     TESTS  tests in the generated stream (default 20000)
# KEEP=1 keeps the callgrind files (the script names their directory).
set -euo pipefail
build=${1:-build-bench}
mode=${2:-normal}
tests=${3:-20000}

bash "$(dirname "$0")/install-deps.sh" --only valgrind

work=$(mktemp -d)
if [ -n "${KEEP:-}" ]; then
  echo "bench-instructions: callgrind files in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
valgrind --tool=callgrind --separate-threads=yes --separate-callers=10 \
  --callgrind-out-file="$work/cg.out" \
  "$build/bench/bench_ingest" --modes "$mode" --threads 1 --memory-tests 0 --rounds 1 \
  --tests "$tests" --dir "$work" >"$work/bench.txt" 2>"$work/valgrind.txt"
for f in "$work"/cg.out-[0-9]*; do
  callgrind_annotate --inclusive=yes "$f" >"$f.txt"
done

python3 - "$work" "$mode" <<'PY'
import glob, re, sys
work, mode = sys.argv[1:3]
events = None
for line in open(f"{work}/bench.txt"):
    f = line.split()
    if len(f) > 2 and f[0] == mode:
        events = int(f[2])
if not events:
    sys.exit(f"bench-instructions: no '{mode}' row in the benchmark's output")
# Per thread: inclusive instructions of each function in each calling
# context (callgrind's --separate-callers names a function followed by its
# callers, innermost first, joined by quotes).
threads = []
for path in sorted(glob.glob(f"{work}/cg.out-*.txt")):
    entries = []
    for line in open(path):
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+\S*?:(.*)", line)
        if m:
            chain = re.sub(r" \[[^\]]*\]$", "", m.group(2)).split("'")
            entries.append((chain, int(m.group(1).replace(",", ""))))
    threads.append(entries)

def total(pattern, only=None, within=None):
    """Instructions in functions matching `pattern` (outermost calls only),
    optionally only those called (at some depth) from `within`."""
    n = 0
    for entries in (threads if only is None else only):
        for chain, count in entries:
            if not re.search(pattern, chain[0]):
                continue
            callers = chain[1:]
            if any(re.search(pattern, c) for c in callers):
                continue  # counted in an outer call
            if within and not any(re.search(within, c) for c in callers):
                continue
            n += count
    return n

PUSH = r"^baton_push\b"
WRITE = r"SqliteStore::write_transaction\("
pushers = [t for t in threads if total(PUSH, [t]) > 0]
# A pusher that finds the writer behind writes the backlog itself (the
# journal's backpressure, or async's): that is the writer's work.
push = (total(PUSH, pushers) - total(WRITE, pushers, within=PUSH)) / events
writer = total(WRITE) / events
ref = total(r"^\(anonymous namespace\)::run_reference\(") / events
print(f"mode {mode}, {events} events: instructions per event")
print(f"  {'reference (parse + insert)':<32} {ref:>9,.0f}")
print(f"  {'pusher (baton_push)':<32} {push:>9,.0f}  {push / ref:.2f}x the reference")
# The journal append may be inlined into journal_commit, which also holds
# the backpressure's table writes: like the pusher's, they are left out.
for label, pattern in [("validate", r"^baton::EventValidator::validate\("),
                       ("state", r"^baton::StateManager::apply\("),
                       ("rows queued", r"SqliteStore::write\(baton::Stmt"),
                       ("journal append", r"SqliteStore::journal_(append|commit)\(")]:
    n = total(pattern, pushers, within=PUSH) - total(WRITE, pushers, within=pattern)
    print(f"    {label:<30} {n / events:>9,.0f}")
print(f"  {'writer (SQLite transactions)':<32} {writer:>9,.0f}  {writer / ref:.2f}x the reference")
print(f"a ratio of 0.9 needs each of the two threads at most {ref / 0.9:,.0f} per event")
PY
