#!/usr/bin/env python3
"""baton worker in queue mode: three workers share one run, failures are
retried, results decide the exit code, and an unreachable server or a bad
token fail with their documented codes."""
import hashlib
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baton_test_util import Server, TempDir, main, run  # noqa: E402

# The command each worker runs per spec: records (spec, attempt, worker), sleeps
# a little so the workers overlap, and fails the specs named in FAIL_ONCE on
# their first attempt and those in FAIL_ALWAYS every time.
SPEC_SCRIPT = r'''
import os, sys, time
spec = sys.argv[1]
with open(os.environ["SPEC_LOG"], "a") as f:
    f.write(f"{spec} {os.environ['BATON_ATTEMPT']} {os.environ['BATON_WORKER']}\n")
print(f"running {spec}")
time.sleep(0.2)
if spec in os.environ.get("FAIL_ALWAYS", "").split(","):
    sys.exit(1)
if spec in os.environ.get("FAIL_ONCE", "").split(",") and os.environ["BATON_ATTEMPT"] == "1":
    print(f"{spec} failed once", file=sys.stderr)
    sys.exit(3)
'''


def start_workers(baton, server, run_id, n, extra, env, d):
    script = os.path.join(d, "spec.py")
    with open(script, "w") as f:
        f.write(SPEC_SCRIPT)
    procs = []
    for i in range(n):
        procs.append(subprocess.Popen(
            [baton, "worker", "--server", server.url(), "--run", run_id, "--client", f"w{i}",
             "--heartbeat-ms", "100", *extra, "--", sys.executable, script, "{spec}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    return [(p, *p.communicate(timeout=120)) for p in procs]


def read_log(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def test_three_workers_share_one_run(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "q.db")) as s:
        specs = [f"spec/{i:02}.test.js" for i in range(12)]
        plan = os.path.join(d, "plan.json")
        with open(plan, "w") as f:
            json.dump({"specs": [{"id": x, "estimate_ms": 100 + i} for i, x in enumerate(specs)]}, f)
        env = dict(os.environ, SPEC_LOG=os.path.join(d, "specs.log"), FAIL_ONCE="spec/05.test.js")
        results = start_workers(baton, s, "queue-run", 3,
                                ["--plan", plan, "--retries", "1", "--build", "b-77"], env, d)
        for p, out, err in results:
            assert p.returncode == 0, (p.returncode, out, err)
            assert "run queue-run: passed" in out, out
        log = read_log(env["SPEC_LOG"])
        ran = sorted((spec, attempt) for spec, attempt, _ in log)
        expected = sorted([(x, "1") for x in specs] + [("spec/05.test.js", "2")])
        assert ran == expected, ran
        workers = {w for _, _, w in log}
        assert len(workers) >= 2, f"one worker did everything: {workers}"
        out = "".join(o for _, o, _ in results)
        assert "[spec/00.test.js] running spec/00.test.js" in out, out
        err = "".join(e for _, _, e in results)
        assert "[spec/05.test.js] spec/05.test.js failed once" in err, err
        ws = s.connect()
        summary = ws.request({"type": "query", "op": "run", "run": "queue-run"})["result"]
        assert summary["specs"]["total"] == 12 and summary["specs"]["done"] == 12, summary
        ws.close()
        assert s.stop()[0] == 0


def test_failing_spec_fails_the_run(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "q.db")) as s:
        env = dict(os.environ, SPEC_LOG=os.path.join(d, "specs.log"), FAIL_ALWAYS="b")
        results = start_workers(baton, s, "red-run", 2, ["--specs", "a,b,c", "--retries", "1"],
                                env, d)
        for p, out, err in results:
            assert p.returncode == 1, (p.returncode, out, err)
        attempts = [a for spec, a, _ in read_log(env["SPEC_LOG"]) if spec == "b"]
        assert sorted(attempts) == ["1", "2"], attempts
        assert s.stop()[0] == 0


def test_specs_glob_and_appended_spec(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "q.db")) as s:
        for name in ("one.test.js", "two.test.js", "skip.txt"):
            open(os.path.join(d, name), "w").close()
        log = os.path.join(d, "seen.log")
        p = run(baton, "worker", "--server", s.url(), "--run", "glob-run", "--quiet",
                "--specs-glob", os.path.join(d, "*.test.js"), "--",
                "sh", "-c", f'echo "$0" >> {log}', check_code=0)
        with open(log) as f:
            seen = sorted(os.path.basename(x.strip()) for x in f)
        assert seen == ["one.test.js", "two.test.js"], (seen, p.stdout)

        # A plain-text plan: one spec per line, comments and blank lines skipped.
        plan = os.path.join(d, "plan.txt")
        with open(plan, "w") as f:
            f.write("# smoke first\nalpha\n\n  beta  \n")
        log2 = os.path.join(d, "plan.log")
        run(baton, "worker", "--server", s.url(), "--run", "plan-run", "--quiet", "--plan", plan,
            "--", "sh", "-c", f'echo "$BATON_SPEC:$1" >> {log2}', "sh", "{spec}", check_code=0)
        with open(log2) as f:
            assert sorted(f.read().split()) == ["alpha:alpha", "beta:beta"]
        assert s.stop()[0] == 0


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_workers_survive_a_server_restart(baton):
    with TempDir() as d:
        db, port = os.path.join(d, "q.db"), free_port()
        first = Server(baton, db, port=port)
        script = os.path.join(d, "spec.py")
        with open(script, "w") as f:
            f.write(SPEC_SCRIPT.replace("time.sleep(0.2)", "time.sleep(0.5)"))
        env = dict(os.environ, SPEC_LOG=os.path.join(d, "specs.log"))
        specs = ",".join(f"r{i}" for i in range(8))
        procs = [subprocess.Popen(
            [baton, "worker", "--server", f"ws://127.0.0.1:{port}", "--run", "restart-run",
             "--client", f"rw{i}", "--specs", specs, "--heartbeat-ms", "100",
             "--reconnect-timeout-ms", "30000", "--", sys.executable, script, "{spec}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
        time.sleep(1.2)
        code, _ = first.stop()
        assert code == 0
        time.sleep(0.5)  # the workers find the server gone and back off
        with Server(baton, db, port=port) as second:
            results = [(p, *p.communicate(timeout=120)) for p in procs]
            for p, out, err in results:
                assert p.returncode == 0, (p.returncode, out, err)
                assert "run restart-run: passed" in out, out
            assert any("reconnect" in err or "retrying" in err for _, _, err in results), \
                [err for _, _, err in results]
            ran = {spec for spec, _, _ in read_log(env["SPEC_LOG"])}
            assert ran == {f"r{i}" for i in range(8)}, ran
            assert second.stop()[0] == 0
        # Resent messages were applied once: no lease was completed twice.
        lines = run(baton, "replay", "--db", db, "--run", "restart-run", "--types", "spec.end",
                    check_code=0).stdout.splitlines()
        leases = [json.loads(x)["lease"] for x in lines]
        assert len(leases) == len(set(leases)), leases


def test_worker_moves_on_to_the_next_server(baton):
    # The first --server URL has nobody listening: the worker tries the next.
    with TempDir() as d, Server(baton, os.path.join(d, "q.db")) as s:
        log = os.path.join(d, "seen.log")
        p = run(baton, "worker", "--server", f"ws://127.0.0.1:{free_port()},{s.url()}",
                "--run", "failover-run", "--specs", "a,b", "--", "sh", "-c",
                f'echo "$BATON_SPEC" >> {log}', check_code=0)
        assert "trying the next server" in p.stderr, p.stderr
        assert "run failover-run: passed" in p.stdout, p.stdout
        with open(log) as f:
            assert sorted(f.read().split()) == ["a", "b"]
        assert s.stop()[0] == 0


def test_sigterm_stops_the_spec_and_the_worker(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "q.db")) as s:
        marker = os.path.join(d, "started")
        w = subprocess.Popen(
            [baton, "worker", "--server", s.url(), "--run", "stop-run", "--specs", "long",
             "--", "sh", "-c", f"touch {marker}; sleep 60; echo never"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while not os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.05)
        assert os.path.exists(marker), "the spec never started"
        started = time.time()
        w.terminate()
        out, err = w.communicate(timeout=30)
        # The shell and its sleep are both stopped: the worker does not wait a minute.
        assert time.time() - started < 10, "the worker waited for the spec's children"
        assert w.returncode == 143, (w.returncode, out, err)
        assert "stopped by SIGTERM" in err and "never" not in out, (out, err)
        assert s.stop()[0] == 0


def test_worker_errors_have_their_exit_codes(baton):
    run(baton, "worker", "--server", "ws://127.0.0.1:9", "--run", "r", check_code=2)  # no command
    run(baton, "worker", "--run", "r", "--", "true", check_code=2)
    run(baton, "worker", "--server", "http://x", "--run", "r", "--", "true", check_code=2)
    run(baton, "worker", "--server", "ws://127.0.0.1:9,", "--run", "r", "--", "true", check_code=2)
    run(baton, "worker", "--server", "ws://127.0.0.1:9", "--run", "r", "--specs-glob",
        "/nonexistent/*.js", "--", "true", check_code=2)
    p = run(baton, "worker", "--server", "ws://127.0.0.1:9,ws://127.0.0.1:9", "--run", "r",
            "--reconnect-timeout-ms", "300", "--", "true", check_code=3)
    assert "unreachable" in p.stderr, p.stderr
    digest = hashlib.sha256(b"right").hexdigest()
    options = json.dumps({"access": {"tokens": [{"sha256": digest, "roles": ["worker"]}]}})
    with TempDir() as d, Server(baton, os.path.join(d, "q.db"), "--options", options) as s:
        p = run(baton, "worker", "--server", s.url(), "--run", "r", "--token", "wrong",
                "--", "true", check_code=4)
        assert "401" in p.stderr and "--token" in p.stderr, p.stderr
        assert s.stop()[0] == 0


if __name__ == "__main__":
    main([test_three_workers_share_one_run, test_failing_spec_fails_the_run,
          test_specs_glob_and_appended_spec, test_workers_survive_a_server_restart,
          test_worker_moves_on_to_the_next_server, test_sigterm_stops_the_spec_and_the_worker, test_worker_errors_have_their_exit_codes])
