#!/usr/bin/env bash
# `make demo`: distributed test execution end to end.
#
# Starts `baton serve` on a free local port with ./baton.db, runs three
# `baton worker` processes in parallel over examples/demo-suite (one spec per
# test file, one retry), each running the spec with node:test and the
# WebSocket reporter of examples/runners, so every test result streams to the
# same server. The server's console plugin shows the progress live; its
# junit, ctrf and html plugins write the reports when the run ends. Then the
# server is stopped with SIGTERM and the run's summary is printed.
#
# Usage: scripts/demo.sh [BUILD_DIR]   (outputs go to the current directory:
# ./baton.db and ./demo-out/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-build}" 2>/dev/null && pwd) || build="$root/${1:-build}"
baton="$build/tools/baton"
here=$(pwd)
out="$here/demo-out"
db="$here/baton.db"

if [ ! -x "$baton" ]; then
  echo "demo: $baton is missing; build first (make demo builds it)" >&2
  exit 2
fi
# The reporter needs a WebSocket client; Node 20 has none built in.
if [ ! -f "$root/examples/node_ws_server/node_modules/ws/package.json" ]; then
  echo "== installing the ws package for the WebSocket reporter (npm ci)"
  (cd "$root/examples/node_ws_server" && npm ci --no-audit --no-fund --silent)
fi

rm -f "$db" "$db-wal" "$db-shm"
rm -rf "$out"
mkdir -p "$out"
run="demo-$(date -u +%Y%m%d-%H%M%S)"
options=$(cat <<EOF
{"plugins":{
  "console":{"stream":"stdout","slowest":3},
  "junit":{"path":"$out/junit.xml"},
  "ctrf":{"path":"$out/ctrf.json"},
  "html":{"path":"$out/report.html"}}}
EOF
)

serve_pid=""
stop_server() {
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid"
    wait "$serve_pid" || true
  fi
  serve_pid=""
}
trap stop_server EXIT

echo "== baton serve --db ./baton.db (console, junit, ctrf and html plugins)"
# The server's stdout is its console plugin: shown live, and kept in serve.log.
"$baton" serve --db "$db" --port 0 --options "$options" > >(tee "$out/serve.log") 2>"$out/serve.err" &
serve_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$out/serve.log" 2>/dev/null || true)
  [ -n "$port" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$out/serve.err" >&2; exit 3; }
  sleep 0.1
done
[ -n "$port" ] || { echo "demo: baton serve did not start" >&2; cat "$out/serve.err" >&2; exit 3; }
server="ws://127.0.0.1:$port"

echo "== 3 x baton worker --run $run --retries 1 -- node --test {spec} (logs in demo-out/worker-N.log)"
export BATON_SERVER="$server"
pids=()
for i in 1 2 3; do
  (cd "$root" && exec "$baton" worker --server "$server" --run "$run" --client "demo-worker-$i" \
     --specs-glob 'examples/demo-suite/*.test.js' --retries 1 \
     -- node --test --test-reporter=./examples/runners/node-ws-reporter.mjs '{spec}') \
    > "$out/worker-$i.log" 2>&1 &
  pids+=($!)
done
worker_failed=0
for pid in "${pids[@]}"; do
  # 1 means the run failed, which it does: the suite has a failing test on purpose.
  rc=0
  wait "$pid" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then worker_failed=1; fi
done

echo "== stopping the server (SIGTERM)"
stop_server
if [ "$worker_failed" -ne 0 ]; then
  echo "demo: a worker failed; see $out/worker-*.log" >&2
  tail -n 20 "$out"/worker-*.log >&2
  exit 1
fi

# The plugins wrote the reports when the run ended; `baton report` reads the
# same database and gives the same files, so it fills in any that is missing.
for pair in junit:junit.xml ctrf:ctrf.json html:report.html json:report.json; do
  format=${pair%%:*}
  file="$out/${pair#*:}"
  [ -s "$file" ] || "$baton" report "$run" --db "$db" --format "$format" -o "$file"
done

echo
echo "== summary"
"$baton" summary "$run" --db "$db" || true
echo
echo "database: $db"
echo "reports:  $out/junit.xml"
echo "          $out/ctrf.json"
echo "          $out/report.html"
echo "          $out/report.json"
echo "logs:     $out/serve.log, $out/worker-1.log .. worker-3.log"
