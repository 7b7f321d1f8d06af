#!/usr/bin/env python3
"""Several `baton serve` processes on one PostgreSQL database share one run
and its queue: 3 servers, 6 workers claiming 500 specs through them (each
worker given the servers in its own order), one server SIGKILLed midway.
Every spec must end exactly once as configured (passed, flaky after one
failure, or failed after its retry), none may be lost, no spec.end may be
applied twice, and the run must complete.

Needs a PostgreSQL server in BATON_PG_DSN (`scripts/pg-server.sh start DIR`
prints one; `make test` exports it); without it the test fails, unless
BATON_PG_OPTIONAL=1 makes it a skip (exit 77)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baton_test_util import Server, TempDir, main, run  # noqa: E402

SPECS = 500
WORKERS = 6
SERVERS = 3
RUN = "scale-out"


def outcome(i):
    """What spec i does: "pass", "flaky" (fails its first attempt) or "fail" (every attempt)."""
    if i % 97 == 5:
        return "fail"
    if i % 23 == 3:
        return "flaky"
    return "pass"


# Records (spec, attempt, worker) and exits as the spec's outcome says.
SPEC_COMMAND = r'''
echo "$BATON_SPEC $BATON_ATTEMPT $BATON_WORKER" >> "$SPEC_LOG"
sleep 0.02
case "$BATON_SPEC" in
  fail-*) exit 1 ;;
  flaky-*) [ "$BATON_ATTEMPT" = 1 ] && exit 1 ;;
esac
exit 0
'''


def spec_id(i):
    return f"{outcome(i)}-{i:03}"


def psql_binary():
    found = shutil.which("psql")
    if found:
        return found
    for version in ("17", "16", "15", "14", "13"):
        candidate = f"/usr/lib/postgresql/{version}/bin/psql"
        if os.path.exists(candidate):
            return candidate
    raise AssertionError("psql not found: install Debian's postgresql-client")


def with_database(dsn, database):
    """`dsn` naming `database` instead of its own (libpq: the last keyword wins)."""
    if dsn.startswith(("postgres://", "postgresql://")):
        parts = urllib.parse.urlsplit(dsn)
        return urllib.parse.urlunsplit(parts._replace(path="/" + database))
    return f"{dsn} dbname={database}"


def psql(dsn, sql):
    p = subprocess.run([psql_binary(), "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                        "-d", dsn, "-c", sql], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"psql {sql!r}: {p.stderr}")
    return [line.split("\t") for line in p.stdout.splitlines() if line]


class Database:
    """A database of its own on the server of BATON_PG_DSN, dropped afterwards."""

    def __init__(self, admin_dsn):
        self.admin = admin_dsn
        self.name = f"baton_scale_{os.getpid()}"
        psql(admin_dsn, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        psql(admin_dsn, f"CREATE DATABASE {self.name}")
        self.dsn = with_database(admin_dsn, self.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        psql(self.admin, f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def wait_for_lines(path, n, procs, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                if sum(1 for _ in f) >= n:
                    return
        if all(p.poll() is not None for p in procs):
            raise AssertionError("every worker exited before the kill")
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} specs ran in {timeout} s")


def test_three_servers_six_workers_one_server_killed(baton):
    admin = os.environ["BATON_PG_DSN"]
    with TempDir() as d, Database(admin) as db:
        log = os.path.join(d, "specs.log")
        plan = os.path.join(d, "plan.txt")
        with open(plan, "w") as f:
            f.write("".join(f"{spec_id(i)}\n" for i in range(SPECS)))
        servers = [Server(baton, None, "--dsn", db.dsn, "--log", "error") for _ in range(SERVERS)]
        try:
            urls = [s.url() for s in servers]
            env = dict(os.environ, SPEC_LOG=log)
            workers = []
            for w in range(WORKERS):
                # Each worker starts on its own server and fails over in turn.
                order = urls[w % SERVERS:] + urls[:w % SERVERS]
                workers.append(subprocess.Popen(
                    [baton, "worker", "--server", ",".join(order), "--run", RUN,
                     "--client", f"w{w}", "--plan", plan, "--retries", "1",
                     "--heartbeat-ms", "200", "--reconnect-timeout-ms", "30000",
                     "--", "sh", "-c", SPEC_COMMAND],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
            wait_for_lines(log, SPECS // 3, workers, timeout=40)
            victim = servers[1]
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.communicate()
            results = [(p, *p.communicate(timeout=90)) for p in workers]
            for p, out, err in results:
                # Some specs fail every attempt: the run fails, and every worker says so.
                assert p.returncode == 1, (p.returncode, out, err[-3000:])
                assert f"run {RUN}: failed" in out, out
            # The workers that started on the killed server went on elsewhere.
            for w in (1, 4):
                err = results[w][2]
                assert "next server" in err, f"worker w{w} never failed over:\n{err[-3000:]}"
            for s in (servers[0], servers[2]):
                code, err = s.stop()
                assert code == 0, err
        finally:
            for s in servers:
                if s.proc.poll() is None:
                    s.proc.kill()
                    s.proc.communicate()

        expected = {spec_id(i): outcome(i) for i in range(SPECS)}
        want_attempts = {"pass": 1, "flaky": 2, "fail": 2}
        want_status = {"pass": "passed", "flaky": "passed", "fail": "failed"}

        # Every spec ran once per attempt, none was lost.
        with open(log) as f:
            ran = [line.split() for line in f if line.strip()]
        runs_of = {}
        for spec, attempt, _ in ran:
            runs_of.setdefault(spec, []).append(int(attempt))
        assert set(runs_of) == set(expected), set(expected) ^ set(runs_of)
        for spec, kind in expected.items():
            assert sorted(runs_of[spec]) == list(range(1, want_attempts[kind] + 1)), \
                (spec, runs_of[spec])

        # PostgreSQL holds the truth: each spec done once with its final status.
        rows = psql(db.dsn, f"SELECT spec, state, status, attempts FROM specs WHERE run = '{RUN}'")
        assert len(rows) == SPECS, len(rows)
        for spec, state, status, attempts in rows:
            kind = expected[spec]
            assert (state, status, int(attempts)) == ("done", want_status[kind],
                                                      want_attempts[kind]), (spec, state, status,
                                                                             attempts)
        # One spec.end applied per attempt: no resent message was applied twice.
        ends = [json.loads(payload) for (payload,) in psql(
            db.dsn, f"SELECT payload FROM events WHERE run = '{RUN}' AND type = 'spec.end'")]
        leases = [e["lease"] for e in ends]
        assert len(leases) == len(set(leases)), "a lease was ended twice"
        assert len(ends) == sum(want_attempts[k] for k in expected.values()), len(ends)
        per_spec = {}
        for e in ends:
            per_spec[e["spec"]] = per_spec.get(e["spec"], 0) + 1
        assert per_spec == {s: want_attempts[k] for s, k in expected.items()}
        # One event log, one total order: sequence numbers are unique and dense.
        (count, low, high), = psql(db.dsn, "SELECT COUNT(*), MIN(seq), MAX(seq) FROM events")
        assert int(count) == int(high) - int(low) + 1, (count, low, high)

        (status, ended_at), = psql(db.dsn, f"SELECT status, ended_at FROM runs WHERE run = '{RUN}'")
        assert status == "failed" and ended_at, (status, ended_at)
        # A reading command on the same database agrees.
        summary = json.loads(run(baton, "summary", RUN, "--dsn", db.dsn, "--json").stdout)
        assert summary["status"] == "failed", summary
        assert summary["specs"] == {"total": SPECS, "queued": 0, "leased": 0, "done": SPECS}, summary


if __name__ == "__main__":
    if not os.environ.get("BATON_PG_DSN"):
        if os.environ.get("BATON_PG_OPTIONAL") == "1":
            print("skipped: BATON_PG_DSN is not set and BATON_PG_OPTIONAL=1")
            sys.exit(77)
        sys.exit("FAILED: BATON_PG_DSN is not set, so the scale-out test has no PostgreSQL "
                 "server. Start one with `scripts/pg-server.sh start DIR` and export "
                 "BATON_PG_DSN=<the DSN it prints> (`make test` does both), or set "
                 "BATON_PG_OPTIONAL=1 to skip it.")
    main([test_three_servers_six_workers_one_server_killed])
