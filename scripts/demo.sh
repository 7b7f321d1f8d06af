#!/usr/bin/env bash
# The main job end to end on the embedded SQLite default: a realistic stream
# from four CI clients is ingested into ./baton.db through the C ABI, then the
# run summary and the reports are shown.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
baton="$build/tools/baton"
out="$root/demo-out"
mkdir -p "$out"
rm -f baton.db baton.db-wal baton.db-shm

echo "== generating 20000 tests from 4 CI clients"
python3 tools/gen_events.py --tests 20000 --clients 4 --run demo-run > "$out/events.jsonl"
echo "== ingesting into ./baton.db"
"$baton" ingest "$out/events.jsonl" --db baton.db
echo "== pushing the same stream again: everything is a duplicate"
"$baton" ingest "$out/events.jsonl" --db baton.db | tail -n 3
for format in json junit ctrf html; do
  ext=$format; [ "$format" = junit ] && ext=xml
  if "$baton" report demo-run --db baton.db --format "$format" -o "$out/report.$ext" 2>/dev/null; then
    echo "wrote $out/report.$ext"
  fi
done
"$baton" summary demo-run --db baton.db
