"""Engine and Session: lifecycle, flush, clock, access, queries, exports and the logger."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import weakref
import xml.etree.ElementTree as ET

import baton
from baton import _engine

from .support import EngineTestCase, push_small_run, run_python


def _token_entry(token: str, roles, runs: str = "*", clients: str = "*"):
    return {
        "sha256": hashlib.sha256(token.encode()).hexdigest(),
        "roles": list(roles),
        "runs": runs,
        "clients": clients,
    }


class LifecycleTest(EngineTestCase):
    def test_default_engine_is_in_memory_and_accepts_a_run(self) -> None:
        reply = self.session.push({"type": "run.start", "run": "r1"})
        self.assertTrue(reply["ok"])
        self.assertIsInstance(reply["seq"], int)
        self.assertGreaterEqual(reply["seq"], 1)

    def test_options_as_text_and_none(self) -> None:
        with baton.Engine('{"path":":memory:","clock":"manual"}') as engine:
            engine.clock_set(1_000)
        with baton.Engine(None) as engine:
            self.assertFalse(engine.closed)
        self.assertTrue(engine.closed)

    def test_unknown_option_is_invalid_argument_naming_the_key(self) -> None:
        with self.assertRaises(baton.InvalidArgument) as caught:
            baton.Engine({"no_such_option": True})
        self.assertIn("no_such_option", caught.exception.message)
        self.assertEqual(caught.exception.status, baton.EINVALID_ARGUMENT)
        self.assertEqual(caught.exception.reply["code"], "invalid_argument")

    def test_options_of_the_wrong_python_type(self) -> None:
        with self.assertRaises(TypeError):
            baton.Engine(42)  # type: ignore[arg-type]

    def test_close_twice_and_use_after_close(self) -> None:
        engine = baton.Engine()
        session = engine.session()
        engine.close()
        engine.close()
        self.assertTrue(engine.closed)
        self.assertTrue(session.closed)
        for call in (
            lambda: engine.flush(),
            lambda: engine.query({"op": "stats"}),
            lambda: engine.session(),
            lambda: session.push({"type": "run.start", "run": "x"}),
            lambda: engine.add_plugin("late", observe=lambda ev: None),
        ):
            with self.assertRaises(baton.Closed) as caught:
                call()
            self.assertEqual(caught.exception.code, "closed")
            self.assertEqual(caught.exception.reply["code"], "closed")

    def test_session_context_manager_and_close(self) -> None:
        with self.engine.session({"client": "ctx"}) as session:
            session.push({"type": "run.start", "run": "ctx-run"})
        self.assertTrue(session.closed)
        session.close()
        with self.assertRaises(baton.Closed):
            session.push({"type": "run.end", "run": "ctx-run", "status": "passed"})

    def test_unreferenced_engine_and_session_are_closed_by_the_collector(self) -> None:
        engine = baton.Engine()
        session = engine.session()
        plugin = engine.add_plugin("gc", observe=lambda ev: None)
        context = plugin._context
        engine_ref = weakref.ref(engine)
        del engine, session, plugin
        gc.collect()
        self.assertIsNone(engine_ref())
        self.assertEqual(context.destroy_calls, 1)

    def test_engines_left_open_are_closed_at_exit(self) -> None:
        path = os.path.join(self.temp_dir(), "exit.db")
        script = (
            "import atexit\n"
            # Registered before baton's own handler, so it runs after it.
            "atexit.register(lambda: print('closed at exit:', engine.closed))\n"
            "import baton\n"
            f"engine = baton.Engine({{'path': {path!r}, 'durability': 'async'}})\n"
            "session = engine.session()\n"
            "session.push({'type': 'run.start', 'run': 'left-open'})\n"
            "cycle = [engine]\n"
            "cycle.append(cycle)\n"
        )
        result = run_python(["-c", script])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("closed at exit: True", result.stdout)
        with baton.Engine({"path": path}) as engine:
            self.assertEqual(engine.query({"op": "run", "run": "left-open"})["run"], "left-open")

    def test_flush_and_durable_store_survive_reopen(self) -> None:
        path = os.path.join(self.temp_dir(), "runs.db")
        with baton.Engine({"path": path, "durability": "full"}) as engine:
            with engine.session({"client": "w"}) as session:
                push_small_run(session, "durable", tests=2, failing=0)
            engine.flush()
        with baton.Engine({"path": path}) as engine:
            summary = engine.query({"op": "run", "run": "durable"})
        self.assertEqual(summary["run"], "durable")
        self.assertEqual(summary["counts"]["tests"], 2)
        self.assertEqual(summary["counts"]["passed"], 2)


class ClockTest(EngineTestCase):
    def options(self):
        return {"clock": "manual"}

    def test_manual_clock_sets_run_times(self) -> None:
        self.engine.clock_set(1_700_000_000_000)
        self.session.push({"type": "run.start", "run": "timed"})
        self.engine.clock_set(1_700_000_002_500)
        self.session.push({"type": "run.end", "run": "timed", "status": "passed"})
        summary = self.engine.query({"op": "run", "run": "timed"})
        self.assertEqual(summary["started_at"], 1_700_000_000_000)
        self.assertEqual(summary["ended_at"], 1_700_000_002_500)
        self.assertEqual(summary["duration_ms"], 2_500)

    def test_clock_set_needs_the_manual_clock(self) -> None:
        with baton.Engine() as engine:
            with self.assertRaises(baton.BatonError) as caught:
                engine.clock_set(1)
            self.assertTrue(caught.exception.message)


class QueryExportTest(EngineTestCase):
    def setUp(self) -> None:
        super().setUp()
        push_small_run(self.session, "q1", tests=3, failing=1)
        push_small_run(self.session, "q2", tests=2, failing=0)

    def test_run_summary(self) -> None:
        summary = self.engine.query({"op": "run", "run": "q1"})
        self.assertEqual(summary["run"], "q1")
        self.assertEqual(summary["status"], "failed")
        counts = summary["counts"]
        self.assertEqual((counts["tests"], counts["passed"], counts["failed"]), (3, 2, 1))

    def test_query_as_text(self) -> None:
        summary = self.engine.query('{"op":"run","run":"q2"}')
        self.assertEqual(summary["status"], "passed")

    def test_runs_tests_and_stats(self) -> None:
        runs = json.dumps(self.engine.query({"op": "runs"}))
        self.assertIn("q1", runs)
        self.assertIn("q2", runs)
        tests = json.dumps(self.engine.query({"op": "tests", "run": "q1"}))
        for test_id in ("q1.t0", "q1.t1", "q1.t2"):
            self.assertIn(test_id, tests)
        self.assertIsInstance(self.engine.query({"op": "stats"}), dict)

    def test_unknown_run_and_unknown_op(self) -> None:
        with self.assertRaises(baton.NotFound) as caught:
            self.engine.query({"op": "run", "run": "no-such-run"})
        self.assertEqual(caught.exception.reply["code"], "not_found")
        self.assertTrue(caught.exception.message)
        with self.assertRaises(baton.BatonError):
            self.engine.query({"op": "no-such-op"})
        with self.assertRaises((baton.ParseError, baton.InvalidArgument)):
            self.engine.query("{not json")

    def test_session_query(self) -> None:
        summary = self.session.query({"op": "run", "run": "q1"})
        self.assertEqual(summary["counts"]["tests"], 3)

    def test_export_json(self) -> None:
        exported = json.loads(self.engine.export("q1", "json"))
        self.assertIn("q1", json.dumps(exported))
        self.assertIn("t2 broke", json.dumps(exported))
        self.assertEqual(json.loads(self.engine.export("q1")), exported)

    def test_export_unknown_run(self) -> None:
        with self.assertRaises(baton.BatonError) as caught:
            self.engine.export("no-such-run", "json")
        self.assertIn(caught.exception.code, ("not_found", "conflict"))

    def test_export_junit(self) -> None:
        try:
            text = self.engine.export("q1", "junit")
        except baton.BatonError as exc:
            self.skipTest(f"this libbaton has no junit export yet: {exc}")
        root = ET.fromstring(text)
        cases = list(root.iter("testcase"))
        self.assertEqual(len(cases), 3)
        self.assertEqual(len([c for c in cases if c.find("failure") is not None]), 1)


class AccessTest(EngineTestCase):
    def options(self):
        return {
            "access": {
                "tokens": [
                    _token_entry("reporter-secret", ["reporter"], runs="nightly-*"),
                    _token_entry("viewer-secret", ["viewer"]),
                    _token_entry("admin-secret", ["admin"]),
                ]
            }
        }

    def setUp(self) -> None:
        self.engine = baton.Engine(self.options())
        self.addCleanup(self.engine.close)
        self.session = self.engine.session({"client": "ci-1", "token": "reporter-secret"})

    def test_reporter_is_limited_to_its_runs(self) -> None:
        self.assertTrue(self.session.push({"type": "run.start", "run": "nightly-1"})["ok"])
        with self.assertRaises(baton.AccessDenied) as caught:
            self.session.push({"type": "run.start", "run": "release-1"})
        self.assertEqual(caught.exception.reply["ok"], False)
        self.assertEqual(caught.exception.reply["code"], "denied")
        self.assertEqual(caught.exception.status, baton.EDENIED)
        self.assertNotIn("reporter-secret", json.dumps(caught.exception.reply))

    def test_session_query_needs_viewer(self) -> None:
        self.session.push({"type": "run.start", "run": "nightly-2"})
        with self.assertRaises(baton.AccessDenied):
            self.session.query({"op": "run", "run": "nightly-2"})
        with self.engine.session({"client": "dash", "token": "viewer-secret"}) as viewer:
            self.assertEqual(viewer.query({"op": "run", "run": "nightly-2"})["run"], "nightly-2")

    def test_bad_token_is_refused(self) -> None:
        with self.assertRaises(baton.AccessDenied):
            self.engine.session({"client": "ci-2", "token": "wrong"})

    def test_reload_revokes_and_open_mode(self) -> None:
        self.session.push({"type": "run.start", "run": "nightly-3"})
        self.engine.access_reload({"tokens": [_token_entry("admin-secret", ["admin"])]})
        with self.assertRaises(baton.AccessDenied):
            self.session.push({"type": "run.end", "run": "nightly-3", "status": "passed"})
        self.engine.access_reload(None)
        with self.engine.session({"client": "anyone"}) as anonymous:
            self.assertTrue(anonymous.push({"type": "run.start", "run": "open-1"})["ok"])
        with self.assertRaises(baton.BatonError):
            self.engine.access_reload('{"tokens": "not a list"}')


class LoggerTest(EngineTestCase):
    """baton logs a failing observer as a warning; an observer returning False fails
    without raising."""

    def failing_observer(self) -> baton.Plugin:
        return self.engine.add_plugin("failing", observe=lambda ev: False)

    def test_logger_receives_warnings_and_can_be_removed(self) -> None:
        lines = []
        self.engine.set_logger(lambda level, message: lines.append((level, message)), baton.LOG_DEBUG)
        self.failing_observer()
        self.session.push({"type": "run.start", "run": "logged"})
        self.assertTrue(lines, "a failing observer should be reported to the logger")
        self.assertTrue(all(isinstance(m, str) and 0 <= lvl <= 3 for lvl, m in lines))
        self.assertTrue(any("failing" in m and lvl == baton.LOG_WARN for lvl, m in lines), lines)
        count = len(lines)
        self.engine.set_logger(None)
        self.session.push({"type": "run.end", "run": "logged", "status": "passed"})
        self.assertEqual(len(lines), count)

    def test_min_level_filters(self) -> None:
        lines = []
        self.engine.set_logger(lambda level, message: lines.append(level), baton.LOG_ERROR)
        self.failing_observer()
        self.session.push({"type": "run.start", "run": "quiet"})
        self.assertEqual(lines, [])

    def test_logger_exception_is_reraised(self) -> None:
        def broken(level: int, message: str) -> None:
            raise KeyError("logger broke")

        self.engine.set_logger(broken, baton.LOG_DEBUG)
        self.failing_observer()
        with self.assertRaises(KeyError):
            self.session.push({"type": "run.start", "run": "raising"})
        self.engine.set_logger(None)
        self.assertTrue(self.session.push({"type": "run.end", "run": "raising", "status": "passed"})["ok"])

    def test_log_to_forwards_to_logging(self) -> None:
        logger = logging.getLogger("baton.test")
        with self.assertLogs(logger, level="DEBUG") as captured:
            self.engine.set_logger(baton.log_to(logger), baton.LOG_DEBUG)
            self.failing_observer()
            self.session.push({"type": "run.start", "run": "forwarded"})
        self.assertEqual(captured.records[0].levelno, logging.WARNING)
        self.assertIn("failing", captured.records[0].getMessage())

    def test_replacing_the_logger_releases_the_old_one(self) -> None:
        before = len(_engine._contexts)
        self.engine.set_logger(lambda level, message: None)
        self.engine.set_logger(lambda level, message: None)
        self.assertEqual(len(_engine._contexts), before + 1)
        self.engine.set_logger(None)
        self.assertEqual(len(_engine._contexts), before)
