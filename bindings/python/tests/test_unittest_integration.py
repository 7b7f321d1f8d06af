"""baton.unittest: recording a real unittest run, in process and from the command line."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import unittest
import xml.etree.ElementTree as ET
from typing import Any, Dict

import baton
from baton.unittest import BatonTestResult, BatonTestRunner, main

from .support import SAMPLES, EngineTestCase, run_python

# What sample_mixed.py records: test id suffix -> status.
MIXED = {
    "Arithmetic.test_adds": "passed",
    "Arithmetic.test_fails": "failed",
    "Arithmetic.test_errors": "failed",
    "Arithmetic.test_skipped": "skipped",
    "Arithmetic.test_known_bug": "passed",
    "Arithmetic.test_subtests": "failed",
    "Output.test_prints": "passed",
    "Output.test_passes": "passed",
    "setUpClass (sample_mixed.BrokenFixture)": "failed",
}


def _load(name: str) -> unittest.TestSuite:
    if SAMPLES not in sys.path:
        sys.path.insert(0, SAMPLES)
    return unittest.defaultTestLoader.loadTestsFromName(name)


class InProcessTest(EngineTestCase):
    def run_sample(self, name: str, run_id: str, **runner_options: Any) -> BatonTestResult:
        stream = io.StringIO()
        runner = BatonTestRunner(session=self.session, run_id=run_id, stream=stream,
                                 verbosity=2, **runner_options)
        result = runner.run(_load(name))
        self.output = stream.getvalue()
        self.assertIsInstance(result, BatonTestResult)
        return result

    def ends(self, run_id: str) -> Dict[str, Dict[str, Any]]:
        return {ev.data["id"]: ev.data for ev in self.engine.replay(run=run_id, types=["test.end"])}

    def test_records_every_outcome(self) -> None:
        result = self.run_sample("sample_mixed", "mixed", buffer=True)
        self.assertFalse(result.wasSuccessful())
        self.assertEqual(result.recording_errors, [])
        self.assertIn("Ran 8 tests", self.output)
        ends = self.ends("mixed")
        statuses = {}
        for test_id, end in ends.items():
            key = test_id[len("sample_mixed."):] if test_id.startswith("sample_mixed.") else test_id
            statuses[key] = end["status"]
        self.assertEqual(statuses, MIXED)

        fails = ends["sample_mixed.Arithmetic.test_fails"]
        self.assertEqual(fails["error"]["type"], "AssertionError")
        self.assertIn("multiplication is broken", fails["error"]["message"])
        self.assertIn("Traceback", fails["error"]["stack"])
        self.assertIn("sample_mixed.py", fails["error"]["stack"])
        self.assertNotIn("unittest/case.py", fails["error"]["stack"])
        self.assertIsInstance(fails["duration_ms"], int)
        errors = ends["sample_mixed.Arithmetic.test_errors"]
        self.assertEqual(errors["error"]["type"], "KeyError")
        self.assertEqual(errors["meta"]["outcome"], "error")
        skipped = ends["sample_mixed.Arithmetic.test_skipped"]
        self.assertEqual(skipped["meta"]["skip_reason"], "not on this platform")
        known = ends["sample_mixed.Arithmetic.test_known_bug"]
        self.assertEqual(known["meta"]["outcome"], "expected_failure")
        subtests = ends["sample_mixed.Arithmetic.test_subtests"]
        self.assertIn("n=2", subtests["error"]["message"] + subtests["error"].get("stack", ""))
        prints = ends["sample_mixed.Output.test_prints"]
        self.assertIn("hello from the test", prints["stdout"])
        self.assertIn("a warning", prints["stderr"])
        fixture = ends["setUpClass (sample_mixed.BrokenFixture)"]
        self.assertIn("database unavailable", fixture["error"]["message"])

    def test_event_sequence_and_suites(self) -> None:
        self.run_sample("sample_green", "green")
        events = [ev.data for ev in self.engine.replay(run="green")]
        self.assertEqual(
            [e["type"] for e in events],
            ["run.start", "suite.start", "test.start", "test.end", "test.start", "test.end",
             "suite.end", "run.end"],
        )
        self.assertEqual(events[1]["id"], "sample_green.Green")
        self.assertEqual(events[2]["suite"], "sample_green.Green")
        self.assertEqual(events[2]["name"], "test_one")
        self.assertTrue(events[1]["file"].endswith("sample_green.py"))
        self.assertEqual(events[-1]["status"], "passed")
        summary = self.engine.query({"op": "run", "run": "green"})
        self.assertEqual(summary["status"], "passed")
        self.assertEqual(summary["counts"]["tests"], 2)

    def test_run_summary_counts(self) -> None:
        self.run_sample("sample_mixed", "counted")
        summary = self.engine.query({"op": "run", "run": "counted"})
        self.assertEqual(summary["status"], "failed")
        counts = summary["counts"]
        self.assertEqual(counts["tests"], 9)
        self.assertEqual(counts["passed"], 4)
        self.assertEqual(counts["failed"], 4)
        self.assertEqual(counts["skipped"], 1)

    def test_ctrl_c_marks_the_run_interrupted(self) -> None:
        class Interrupted(unittest.TestCase):
            def test_first(self) -> None:
                pass

            def test_second(self) -> None:
                raise KeyboardInterrupt

        runner = BatonTestRunner(session=self.session, run_id="ctrl-c", stream=io.StringIO())
        with self.assertRaises(KeyboardInterrupt):
            runner.run(unittest.defaultTestLoader.loadTestsFromTestCase(Interrupted))
        summary = self.engine.query({"op": "run", "run": "ctrl-c"})
        self.assertEqual(summary["status"], "interrupted")
        self.assertEqual(summary["counts"]["passed"], 1)
        self.assertEqual(summary["counts"]["interrupted"], 1)

    def test_refused_messages_do_not_break_the_run(self) -> None:
        self.engine.add_plugin("refuse-ends", filter=lambda ev: ev.type != "test.end")
        result = self.run_sample("sample_green", "refusing")
        self.assertTrue(result.wasSuccessful())
        self.assertEqual(len(result.recording_errors), 2)
        self.assertIsInstance(result.recording_errors[0], baton.Rejected)
        self.assertIn("baton: could not record test.end", self.output)


class CommandLineTest(unittest.TestCase):
    def setUp(self) -> None:
        import shutil
        import tempfile

        self.folder = tempfile.mkdtemp(prefix="baton-unittest-")
        self.addCleanup(shutil.rmtree, self.folder, True)

    def test_discover_records_exports_and_fails(self) -> None:
        db = os.path.join(self.folder, "runs.db")
        junit = os.path.join(self.folder, "reports", "junit.xml")
        exported = os.path.join(self.folder, "run.json")
        result = run_python(
            ["-m", "baton.unittest", "discover", "-s", SAMPLES, "-p", "sample_mixed.py",
             "--db", db, "--junit", junit, "--json", exported, "--run", "cli-1", "-b"],
            cwd=self.folder,
        )
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("Ran 8 tests", result.stderr)
        self.assertIn("FAILED (failures=2, errors=2, skipped=1, expected failures=1)", result.stderr)
        self.assertIn("baton: run cli-1:", result.stderr)
        with open(exported, encoding="utf-8") as f:
            self.assertIn("multiplication is broken", f.read())
        with baton.Engine({"path": db}) as engine:
            summary = engine.query({"op": "run", "run": "cli-1"})
        self.assertEqual(summary["status"], "failed")
        self.assertEqual(summary["counts"]["tests"], 9)
        if os.path.exists(junit):
            root = ET.parse(junit).getroot()
            self.assertEqual(len(list(root.iter("testcase"))), 9)
        else:
            self.assertIn("junit export of this libbaton failed", result.stderr)

    def test_discover_green_exits_zero(self) -> None:
        result = run_python(
            ["-m", "baton.unittest", "discover", "-s", SAMPLES, "-p", "sample_green.py",
             "--run", "cli-green", "--json", os.path.join(self.folder, "g.json")],
            cwd=self.folder,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Ran 2 tests", result.stderr)
        self.assertIn("\nOK\n", result.stderr)
        with open(os.path.join(self.folder, "g.json"), encoding="utf-8") as f:
            self.assertIn("cli-green", f.read())

    def test_test_names_instead_of_discovery(self) -> None:
        result = run_python(
            ["-m", "baton.unittest", "-v", "sample_green.Green.test_one"], cwd=SAMPLES
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("test_one", result.stderr)
        self.assertIn("Ran 1 test", result.stderr)

    def test_main_in_process(self) -> None:
        if SAMPLES not in sys.path:
            sys.path.insert(0, SAMPLES)
        stderr = io.StringIO()
        saved = sys.stderr
        sys.stderr = stderr
        try:
            status = main(["discover", "-s", SAMPLES, "-p", "sample_green.py", "-q", "--run", "m"])
        finally:
            sys.stderr = saved
        self.assertEqual(status, 0, stderr.getvalue())
        self.assertIn("baton: run m: tests 2, passed 2", stderr.getvalue())

    def test_access_token_and_refusals(self) -> None:
        digest = hashlib.sha256(b"cli-secret").hexdigest()
        options = json.dumps({"access": {"tokens": [{"sha256": digest, "roles": ["reporter"]}]}})
        base = ["-m", "baton.unittest", "discover", "-s", SAMPLES, "-p", "sample_green.py",
                "--options", options, "--run", "tok"]
        result = run_python(base + ["--token", "cli-secret"], cwd=self.folder)
        self.assertEqual(result.returncode, 0, result.stderr)
        result = run_python(base, cwd=self.folder, BATON_TOKEN="cli-secret")
        self.assertEqual(result.returncode, 0, result.stderr)
        result = run_python(base + ["--token", "wrong"], cwd=self.folder)
        self.assertEqual(result.returncode, 2)
        self.assertIn("baton: error: cannot open a session (denied)", result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        result = run_python(base[:-4] + ["--options", '{"no_such": 1}'], cwd=self.folder)
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot open the engine (invalid_argument)", result.stderr)
        result = run_python(base[:-4] + ["--options", "[1]"], cwd=self.folder)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--options is not a JSON object", result.stderr)

    def test_usage_errors(self) -> None:
        result = run_python(["-m", "baton.unittest"])
        self.assertEqual(result.returncode, 2)
        self.assertIn("usage:", result.stderr)
        result = run_python(["-m", "baton.unittest", "discover", "--help"])
        self.assertEqual(result.returncode, 0)
        self.assertIn("--junit", result.stdout)
