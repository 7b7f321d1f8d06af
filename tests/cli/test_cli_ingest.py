#!/usr/bin/env python3
"""baton ingest / summary / runs / report / replay / stats / cleanup, end to end
against a real database, checked against the generated stream itself."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baton_test_util import TempDir, gen_events, main, run  # noqa: E402

COMMANDS = ["ingest", "summary", "runs", "report", "stats", "replay", "cleanup", "serve", "worker"]


def test_help_and_usage_errors(baton):
    top = run(baton, "--help", check_code=0)
    for c in COMMANDS:
        assert c in top.stdout, c
        h = run(baton, c, "--help", check_code=0)
        assert h.stdout.startswith(f"usage: baton {c}"), h.stdout[:80]
        assert "exit codes" in h.stdout, c
    run(baton, "frobnicate", check_code=2)
    e = run(baton, "ingest", check_code=2)
    assert "see 'baton ingest --help'" in e.stderr
    e = run(baton, "summary", "r1", check_code=2)
    assert "--db" in e.stderr
    run(baton, "summary", "r1", "--db", "x.db", "--bogus", check_code=2)
    run(baton, "ingest", "f.jsonl", "--db", "x.db", "--durability", "sometimes", check_code=2)
    with TempDir() as d:
        e = run(baton, "summary", "r1", "--db", os.path.join(d, "missing.db"), check_code=3)
        assert "no database" in e.stderr
        e = run(baton, "ingest", os.path.join(d, "missing.jsonl"), "--db",
                os.path.join(d, "t.db"), check_code=3)
        assert "cannot read" in e.stderr


def check_counts(summary, expect):
    for key, value in expect["counts"].items():
        assert summary["counts"][key] == value, (key, summary["counts"], expect["counts"])
    assert summary["status"] == expect["status"], (summary["status"], expect["status"])


def test_ingest_counts_match_the_stream(baton):
    with TempDir() as d:
        events, db = os.path.join(d, "events.jsonl"), os.path.join(d, "t.db")
        expect = gen_events(events, os.path.join(d, "expect.json"), tests=400, clients=4,
                            run="ingest-run", seed=11)
        p = run(baton, "ingest", events, "--db", db, check_code=0)
        n = expect["messages"]
        assert f"ingested {n} messages" in p.stdout and f"{n} accepted (0 duplicates)" in p.stdout, p.stdout
        assert "run ingest-run:" in p.stdout, p.stdout
        s = json.loads(run(baton, "summary", "ingest-run", "--db", db, "--json").stdout)
        check_counts(s, expect)
        text = run(baton, "summary", "ingest-run", "--db", db)
        assert text.returncode == (1 if expect["status"] == "failed" else 0)
        assert f"{expect['counts']['tests']} total" in text.stdout, text.stdout

        # The same stream again, from stdin: every message is a duplicate, nothing changes.
        with open(events) as f:
            p = run(baton, "ingest", "-", "--db", db, input=f.read(), check_code=0)
        assert f"{n} accepted ({n} duplicates)" in p.stdout, p.stdout
        s2 = json.loads(run(baton, "summary", "ingest-run", "--db", db, "--json").stdout)
        check_counts(s2, expect)

        # The log holds each message exactly once, in order, and replays as a stream.
        lines = run(baton, "replay", "--db", db, check_code=0).stdout.splitlines()
        assert len(lines) == n, (len(lines), n)
        with open(events) as f:
            sent = [json.loads(line) for line in f]
        got = [json.loads(line) for line in lines]
        assert [(e["client"], e["seq"]) for e in got] == [(e["client"], e["seq"]) for e in sent]
        ends = run(baton, "replay", "--db", db, "--run", "ingest-run", "--types", "test.end",
                   check_code=0).stdout.splitlines()
        assert len(ends) == sum(1 for e in sent if e["type"] == "test.end")
        tail = run(baton, "replay", "--db", db, "--from-seq", "2", "--with-seq", check_code=0)
        assert len(tail.stdout.splitlines()) == n - 1


def test_refusals_are_counted_by_code(baton):
    with TempDir() as d:
        events, db = os.path.join(d, "bad.jsonl"), os.path.join(d, "t.db")
        with open(events, "w") as f:
            f.write('{"type":"run.start","run":"r-bad","client":"c1","seq":1}\n')
            f.write('this is not json\n')
            f.write('\n')
            f.write('{"type":"test.start","run":"r-bad","id":"t1","name":"one","client":"c1","seq":2}\n')
            f.write('{"type":"test.end","run":"r-bad","id":"t1","status":"splendid","client":"c1","seq":3}\n')
            f.write('{"type":"test.end","run":"r-bad","id":"t1","status":"passed","client":"c1","seq":4}\n')
        p = run(baton, "ingest", events, "--db", db, check_code=4)
        assert "5 messages" in p.stdout and "3 accepted" in p.stdout and "2 refused" in p.stdout, p.stdout
        assert "refused parse" in p.stdout and "refused invalid" in p.stdout, p.stdout
        assert "line 2: parse" in p.stderr and "line 5: invalid" in p.stderr, p.stderr
        s = json.loads(run(baton, "summary", "r-bad", "--db", db, "--json").stdout)
        assert s["counts"]["tests"] == 1 and s["counts"]["passed"] == 1, s


def test_report_runs_stats_cleanup(baton):
    with TempDir() as d:
        events, db = os.path.join(d, "events.jsonl"), os.path.join(d, "t.db")
        expect = gen_events(events, os.path.join(d, "expect.json"), tests=60, clients=2,
                            run="report-run")
        run(baton, "ingest", events, "--db", db, check_code=0)

        junit = os.path.join(d, "junit.xml")
        p = run(baton, "report", "report-run", "--db", db, "--format", "junit", "-o", junit,
                check_code=0)
        assert "wrote junit report" in p.stderr
        with open(junit) as f:
            xml = f.read()
        assert "<testsuite" in xml, xml[:200]
        j = run(baton, "report", "report-run", "--db", db, "--format", "json", check_code=0)
        json.loads(j.stdout)
        ctrf = run(baton, "report", "report-run", "--db", db, "--format", "ctrf", check_code=0)
        assert json.loads(ctrf.stdout)["results"]["summary"]["tests"] == expect["counts"]["tests"]
        e = run(baton, "report", "report-run", "--db", db, "--format", "no-such-format",
                check_code=4)
        assert "no-such-format" in e.stderr, e.stderr
        run(baton, "report", "no-such-run", "--db", db, "--format", "json", check_code=4)
        run(baton, "report", "report-run", "--db", db, check_code=2)

        runs = run(baton, "runs", "--db", db, check_code=0)
        assert "report-run" in runs.stdout and "STATUS" in runs.stdout, runs.stdout
        runs_json = json.loads(run(baton, "runs", "--db", db, "--json", check_code=0).stdout)
        assert "report-run" in json.dumps(runs_json)

        json.loads(run(baton, "stats", "--db", db, "--json", check_code=0).stdout)
        assert run(baton, "stats", "--db", db, check_code=0).stdout.startswith("{")

        run(baton, "cleanup", "--db", db, "--older-than", "soon", check_code=2)
        run(baton, "cleanup", "--db", db, check_code=2)
        run(baton, "cleanup", "--db", db, "--older-than", "3650", check_code=0)
        s = json.loads(run(baton, "summary", "report-run", "--db", db, "--json").stdout)
        assert s["counts"]["tests"] == expect["counts"]["tests"], "a recent run was cleaned up"


if __name__ == "__main__":
    main([test_help_and_usage_errors, test_ingest_counts_match_the_stream,
          test_refusals_are_counted_by_code, test_report_runs_stats_cleanup])
