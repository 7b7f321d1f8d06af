#!/usr/bin/env bash
# End-to-end tests of examples/ against the build in $BATON_BUILD: the two
# embedding servers with a client, the Catch2 listener harness, the ingest
# scripts, both WebSocket runners against a real `baton serve` (including a
# server killed and restarted mid-run), and scripts/demo.sh itself.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BATON_BUILD:-$root/build}
baton="$build/tools/baton"
export BATON_LIBRARY="$build/libbaton.so"
export LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# Runner settings from a surrounding `baton worker` must not leak into the tests.
unset BATON_SPEC BATON_ATTEMPT BATON_WORKER BATON_RUN BATON_SERVER BATON_CLIENT BATON_TOKEN BATON_DB
tmp=$(mktemp -d)
passed=0
failed=0
failures=()
started_pids=()

cleanup() {
  for pid in "${started_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "  ok   $1"; passed=$((passed + 1)); }
not_ok() {
  echo "  FAIL $1"
  [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/       | /' "$2" | tail -n 25
  failed=$((failed + 1))
  failures+=("$1")
}
# check NAME LOG CMD...: runs CMD with its output in LOG.
check() {
  local name=$1 log=$2
  shift 2
  if "$@" > "$log" 2>&1; then ok "$name"; else not_ok "$name" "$log"; fi
}

# start_server LOG CMD...: starts a server that prints "listening on ADDR:PORT"
# and sets $server_pid and $server_port.
start_server() {
  local log=$1
  shift
  "$@" > "$log" 2>&1 &
  server_pid=$!
  started_pids+=("$server_pid")
  server_port=""
  for _ in $(seq 1 200); do
    server_port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$log")
    [ -n "$server_port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid"
}

# A Python WebSocket client built on the runner's own RFC 6455 client: sends
# a small run twice (the second time every message must come back "dup") and
# checks every reply.
ws_client_check() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[2])
from unittest_ws import WebSocketClient
port = sys.argv[1]
run = "ws-client-check"
msgs = [{"type": "run.start", "run": run}]
for i in range(5):
    msgs += [{"type": "test.start", "run": run, "id": f"t{i}", "name": f"t{i}"},
             {"type": "test.end", "run": run, "id": f"t{i}", "status": "failed" if i == 2 else "passed"}]
msgs.append({"type": "run.end", "run": run})
msgs = [dict(m, client="checker", seq=n + 1) for n, m in enumerate(msgs)]
for attempt in ("first", "again"):
    ws = WebSocketClient(f"ws://127.0.0.1:{port}/?client=checker")
    for m in msgs:
        ws.send_text(json.dumps(m))
        reply = json.loads(ws.recv_text(10))
        assert reply.get("ok"), (m, reply)
        assert bool(reply.get("dup")) == (attempt == "again"), (attempt, m, reply)
    ws.close()
ws = WebSocketClient(f"ws://127.0.0.1:{port}/?client=checker")
ws.send_text("{not json")
reply = json.loads(ws.recv_text(10))
assert reply.get("ok") is False and reply.get("code") == "parse", reply
ws.close()
print("replies ok, duplicates acknowledged, bad JSON refused")
EOF
}

summary_has() {  # summary_has DB RUN TEXT
  "$baton" summary "$2" --db "$1" > "$tmp/summary.txt" 2>&1
  grep -q -- "$3" "$tmp/summary.txt" || { cat "$tmp/summary.txt"; return 1; }
}

# Every test.end of RUN in DB appears exactly once per (id, attempt), and there are N.
exactly_once() {  # exactly_once DB RUN N
  "$baton" replay --db "$1" --run "$2" --types test.end > "$tmp/ends.jsonl" || return 1
  python3 - "$tmp/ends.jsonl" "$3" <<'EOF'
import collections, json, sys
ends = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = collections.Counter((e["id"], e.get("attempt", 1)) for e in ends)
twice = [k for k, n in keys.items() if n > 1]
assert not twice, f"recorded more than once: {twice}"
assert len(ends) == int(sys.argv[2]), f"{len(ends)} test.end recorded, expected {sys.argv[2]}"
print(f"{len(ends)} test.end events, each exactly once")
EOF
}

wait_for_tests() {  # wait_for_tests PORT RUN N: until the run has N tests recorded (max 60 s)
  python3 - "$@" <<'EOF'
import json, sys, time, urllib.request
port, run, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.time() + 60
while time.time() < deadline:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/runs/{run}", timeout=2) as r:
            if json.load(r)["counts"]["tests"] >= n:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit(1)
EOF
}

echo "-- examples/beast_server"
beast="$build/examples/baton_example_beast_server"
if start_server "$tmp/beast.log" "$beast" --port 0 --db "$tmp/beast.db"; then
  check "beast server: a client's run, duplicates, bad JSON" "$tmp/beast-client.log" \
    ws_client_check "$server_port" "$root/examples/runners"
  if stop_server && grep -q '^stopped$' "$tmp/beast.log"; then ok "beast server: stops on SIGTERM"; else not_ok "beast server: stops on SIGTERM" "$tmp/beast.log"; fi
  check "beast server: the run is in its database" "$tmp/beast-db.log" \
    summary_has "$tmp/beast.db" ws-client-check "5 total, 4 passed, 1 failed"
else
  not_ok "beast server: starts" "$tmp/beast.log"
fi

echo "-- examples/node_ws_server"
# ws for the server and the reporter, koffi for the Node binding (when this
# script runs without scripts/run-tests.sh, which installs it first).
for dir in examples/node_ws_server:ws bindings/node:koffi; do
  if [ ! -f "$root/${dir%%:*}/node_modules/${dir#*:}/package.json" ]; then
    (cd "$root/${dir%%:*}" && npm ci --no-audit --no-fund --silent) > "$tmp/npm.log" 2>&1 \
      || not_ok "npm ci in ${dir%%:*}" "$tmp/npm.log"
  fi
done
if start_server "$tmp/node.log" node "$root/examples/node_ws_server/server.js" --port 0 --db "$tmp/node.db"; then
  check "node ws server: client.js" "$tmp/node-client.log" \
    node "$root/examples/node_ws_server/client.js" "ws://127.0.0.1:$server_port" node-run
  if grep -q 'run.end -> {"ok":true' "$tmp/node-client.log"; then ok "node ws server: every reply ok"; else not_ok "node ws server: every reply ok" "$tmp/node-client.log"; fi
  check "node ws server: a client's run, duplicates, bad JSON" "$tmp/node-client2.log" \
    ws_client_check "$server_port" "$root/examples/runners"
  if stop_server && grep -q '^stopped$' "$tmp/node.log"; then ok "node ws server: stops on SIGTERM"; else not_ok "node ws server: stops on SIGTERM" "$tmp/node.log"; fi
  check "node ws server: the runs are in its database" "$tmp/node-db.log" \
    summary_has "$tmp/node.db" node-run "2 total, 1 passed, 1 failed"
else
  not_ok "node ws server: starts" "$tmp/node.log"
fi

echo "-- examples/catch2_listener"
catch2="$build/examples/baton_example_catch2"
check "catch2 harness: passes" "$tmp/catch2.log" env BATON_JUNIT="$tmp/catch2.xml" "$catch2"
check "catch2 harness: its JUnit is well-formed (xmllint)" "$tmp/xmllint.log" xmllint --noout "$tmp/catch2.xml"
check "catch2 harness: JUnit lists 5 tests in 2 suites" "$tmp/catch2-count.log" \
  python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); \
n = len(r.findall(".//testcase")); s = len(r.findall(".//testsuite")); print(n, s); assert (n, s) == (5, 2)' "$tmp/catch2.xml"
if env BATON_EXAMPLE_FAIL=1 BATON_JUNIT="$tmp/catch2-fail.xml" BATON_DB="$tmp/catch2.db" BATON_RUN=c2 \
     "$catch2" > "$tmp/catch2-fail.log" 2>&1; then
  not_ok "catch2 harness: BATON_EXAMPLE_FAIL makes it fail" "$tmp/catch2-fail.log"
else
  ok "catch2 harness: BATON_EXAMPLE_FAIL makes it fail"
fi
check "catch2 harness: the failure is in the JUnit with its message" "$tmp/catch2-fail-x.log" \
  sh -c "xmllint --noout '$tmp/catch2-fail.xml' && grep -q '<failure' '$tmp/catch2-fail.xml' && grep -q '2 + 2 ==' '$tmp/catch2-fail.xml'"
check "catch2 harness: the run is in its database" "$tmp/catch2-db.log" summary_has "$tmp/catch2.db" c2 "1 failed"

echo "-- examples/python_ingest.py, examples/node_ingest.js"
python3 "$root/tools/gen_events.py" --tests 300 --clients 3 --run ingest-run --expect "$tmp/expect.json" > "$tmp/events.jsonl"
want=$(python3 - "$tmp/expect.json" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
c = e.get("counts", e)
print(f"{c['tests']} tests, {c['failed']} failed, {c['flaky']} flaky")
EOF
)
for lang in python node; do
  if [ "$lang" = python ]; then cmd=(python3 "$root/examples/python_ingest.py"); else cmd=(node "$root/examples/node_ingest.js"); fi
  check "${lang}_ingest: generated stream" "$tmp/$lang-gen.log" "${cmd[@]}"
  grep -q ", 40 tests, 4 failed, 0 flaky; observer saw 4 failed attempts; 0 refused" "$tmp/$lang-gen.log" \
    && ok "${lang}_ingest: generated stream counted" || not_ok "${lang}_ingest: generated stream counted" "$tmp/$lang-gen.log"
  check "${lang}_ingest: a JSON Lines file from 3 clients" "$tmp/$lang-file.log" "${cmd[@]}" "$tmp/events.jsonl"
  grep -q "^ingest-run: .*, $want; .* 0 refused" "$tmp/$lang-file.log" \
    && ok "${lang}_ingest: file counts match the generator's ($want)" \
    || { echo "expected: $want" >> "$tmp/$lang-file.log"; not_ok "${lang}_ingest: file counts match the generator's" "$tmp/$lang-file.log"; }
done

echo "-- examples/runners against baton serve"
db="$tmp/runners.db"
if start_server "$tmp/serve.log" "$baton" serve --db "$db" --port 0; then
  port=$server_port
  check "unittest_ws: a run" "$tmp/py.log" \
    python3 "$root/examples/runners/unittest_ws.py" --server "ws://127.0.0.1:$port" --run py-run \
    -s "$root/examples/runners/sample_unittest"
  if env SAMPLE_FAIL=1 python3 "$root/examples/runners/unittest_ws.py" --server "ws://127.0.0.1:$port" \
       --run py-fail -s "$root/examples/runners/sample_unittest" > "$tmp/py-fail.log" 2>&1; then
    not_ok "unittest_ws: a failing test makes it exit 1" "$tmp/py-fail.log"
  else
    ok "unittest_ws: a failing test makes it exit 1"
  fi
  check "unittest_ws: under baton worker, one spec per test file" "$tmp/py-worker.log" \
    "$baton" worker --server "ws://127.0.0.1:$port" --run py-worker --client py-worker-1 --quiet \
    --specs-glob "$root/examples/runners/sample_unittest/test_*.py" \
    -- python3 "$root/examples/runners/unittest_ws.py" --server "ws://127.0.0.1:$port" '{spec}'
  grep -q "8 total, 7 passed, 0 failed, 1 skipped" "$tmp/py-worker.log" \
    && ok "unittest_ws: under baton worker, the tests are in the worker's run" \
    || not_ok "unittest_ws: under baton worker, the tests are in the worker's run" "$tmp/py-worker.log"
  (cd "$root" && BATON_SERVER="ws://127.0.0.1:$port" BATON_RUN=node-run \
     node --test --test-reporter=./examples/runners/node-ws-reporter.mjs examples/demo-suite/) > "$tmp/node-rep.log" 2>&1
  grep -q "baton run node-run: failed (21 tests: 18 passed, 2 failed, 0 flaky, 1 skipped)" "$tmp/node-rep.log" \
    && ok "node-ws-reporter: a run of examples/demo-suite" || not_ok "node-ws-reporter: a run of examples/demo-suite" "$tmp/node-rep.log"

  # The server dies (SIGKILL, like a crash) while a runner is mid-run and comes
  # back on the same port with the same database: the runner reconnects,
  # resends what was not answered, and every test is recorded exactly once.
  crash_restart() {  # crash_restart RUN: once RUN has 2 tests, kill and restart the server
    if wait_for_tests "$port" "$1" 2; then
      kill -KILL "$server_pid"
      wait "$server_pid" 2>/dev/null
      sleep 0.3
      if start_server "$tmp/serve-$1.log" "$baton" serve --db "$db" --port "$port"; then
        ok "serve: killed during $1, restarted on port $port with the same database"
      else
        not_ok "serve: killed during $1, restarted on port $port with the same database" "$tmp/serve-$1.log"
      fi
    else
      not_ok "runners: $1 has tests recorded before the crash" "$tmp/serve.log"
    fi
  }
  SAMPLE_DELAY_S=0.3 python3 "$root/examples/runners/unittest_ws.py" --server "ws://127.0.0.1:$port" \
    --run py-crash -s "$root/examples/runners/sample_unittest" > "$tmp/py-crash.log" 2>&1 &
  py_pid=$!
  crash_restart py-crash
  wait "$py_pid"; py_rc=$?
  [ "$py_rc" -eq 0 ] && grep -q "py-crash: passed (8 tests: 7 passed, 0 failed" "$tmp/py-crash.log" \
    && grep -Eq "[1-9][0-9]* reconnects" "$tmp/py-crash.log" \
    && ok "unittest_ws: survives the server's crash (reconnected, run complete)" \
    || not_ok "unittest_ws: survives the server's crash (reconnected, run complete)" "$tmp/py-crash.log"

  # Tests that take a while, so the crash lands mid-run however fast the machine is.
  mkdir -p "$tmp/slow"
  cat > "$tmp/slow/slow.test.js" <<'EOF'
const test = require('node:test');
const { setTimeout: sleep } = require('node:timers/promises');
for (let i = 1; i <= 10; i++) test(`step ${i}`, () => sleep(250));
EOF
  (cd "$root" && BATON_SERVER="ws://127.0.0.1:$port" BATON_RUN=node-crash \
     node --test --test-reporter=./examples/runners/node-ws-reporter.mjs "$tmp/slow/") > "$tmp/node-crash.log" 2>&1 &
  node_pid=$!
  crash_restart node-crash
  wait "$node_pid"
  grep -q "baton run node-crash: passed (10 tests: 10 passed, 0 failed, 0 flaky, 0 skipped)" "$tmp/node-crash.log" \
    && grep -Eq "[1-9][0-9]* reconnects" "$tmp/node-crash.log" \
    && ok "node-ws-reporter: survives the server's crash (reconnected, run complete)" \
    || not_ok "node-ws-reporter: survives the server's crash (reconnected, run complete)" "$tmp/node-crash.log"
  stop_server
  check "unittest_ws: each test recorded exactly once across the crash" "$tmp/py-once.log" exactly_once "$db" py-crash 8
  check "node-ws-reporter: each test recorded exactly once across the crash" "$tmp/node-once.log" exactly_once "$db" node-crash 10
else
  not_ok "serve: starts" "$tmp/serve.log"
fi

echo "-- examples/runners with access control"
hash=$(printf 'runner-secret' | sha256sum | cut -d' ' -f1)
if start_server "$tmp/serve-auth.log" "$baton" serve --db "$tmp/auth.db" --port 0 \
     --options "{\"access\":{\"tokens\":[{\"sha256\":\"$hash\",\"roles\":[\"reporter\",\"viewer\"]}]}}"; then
  url="ws://127.0.0.1:$server_port"
  check "unittest_ws: the right token is accepted" "$tmp/auth-py.log" \
    python3 "$root/examples/runners/unittest_ws.py" --server "$url" --token runner-secret --run auth-py \
    -s "$root/examples/runners/sample_unittest"
  if timeout 20 python3 "$root/examples/runners/unittest_ws.py" --server "$url" --token wrong --run auth-py2 \
       -s "$root/examples/runners/sample_unittest" > "$tmp/auth-py2.log" 2>&1; then
    not_ok "unittest_ws: a wrong token fails at once (exit 3)" "$tmp/auth-py2.log"
  else
    [ $? -eq 3 ] && ok "unittest_ws: a wrong token fails at once (exit 3)" \
      || not_ok "unittest_ws: a wrong token fails at once (exit 3)" "$tmp/auth-py2.log"
  fi
  (cd "$root" && BATON_SERVER="$url" BATON_TOKEN=runner-secret BATON_RUN=auth-node \
     node --test --test-reporter=./examples/runners/node-ws-reporter.mjs examples/demo-suite/dates.test.js) > "$tmp/auth-node.log" 2>&1
  grep -q "baton run auth-node: passed (2 tests" "$tmp/auth-node.log" \
    && ok "node-ws-reporter: the right token is accepted (hello)" \
    || not_ok "node-ws-reporter: the right token is accepted (hello)" "$tmp/auth-node.log"
  (cd "$root" && BATON_SERVER="$url" BATON_TOKEN=wrong BATON_RUN=auth-node2 timeout 30 \
     node --test --test-reporter=./examples/runners/node-ws-reporter.mjs examples/demo-suite/dates.test.js) > "$tmp/auth-node2.log" 2>&1
  grep -q "hello refused" "$tmp/auth-node2.log" \
    && ok "node-ws-reporter: a wrong token fails at once" \
    || not_ok "node-ws-reporter: a wrong token fails at once" "$tmp/auth-node2.log"
  stop_server
else
  not_ok "serve with access: starts" "$tmp/serve-auth.log"
fi

echo "-- scripts/demo.sh"
mkdir -p "$tmp/demo"
if (cd "$tmp/demo" && bash "$root/scripts/demo.sh" "$build") > "$tmp/demo.log" 2>&1; then
  ok "demo.sh: exits 0"
else
  not_ok "demo.sh: exits 0" "$tmp/demo.log"
fi
check "demo.sh: the run has 21 tests, 1 flaky, 1 failed" "$tmp/demo-sum.log" \
  grep -q "21 total, 19 passed (1 flaky), 1 failed, 1 skipped" "$tmp/demo.log"
check "demo.sh: JUnit well-formed" "$tmp/demo-xml.log" xmllint --noout "$tmp/demo/demo-out/junit.xml"
check "demo.sh: CTRF and HTML written" "$tmp/demo-files.log" \
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["results"]["summary"]["tests"] == 21, d["results"]["summary"]; assert "<html" in open(sys.argv[2]).read().lower()' \
  "$tmp/demo/demo-out/ctrf.json" "$tmp/demo/demo-out/report.html"
check "demo.sh: ./baton.db in the current directory" "$tmp/demo-db.log" test -s "$tmp/demo/baton.db"

echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  printf '  failed: %s\n' "${failures[@]}"
  exit 1
fi
