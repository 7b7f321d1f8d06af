"""Each refusal raises its own exception class carrying status, code, reply and message."""

from __future__ import annotations

import json
import os
from typing import Type

import baton

from .support import EngineTestCase


class ErrorClassesTest(EngineTestCase):
    def assertRefusal(self, exc: baton.BatonError, cls: Type[baton.BatonError], code: str) -> None:
        self.assertIsInstance(exc, cls)
        self.assertIsInstance(exc, baton.BatonError)
        self.assertEqual(exc.status, cls.status)
        self.assertEqual(exc.code, code)
        self.assertEqual(exc.reply["ok"], False)
        self.assertEqual(exc.reply["code"], code)
        self.assertTrue(exc.message)
        self.assertEqual(str(exc), exc.message)
        self.assertIn(cls.__name__, repr(exc))

    def test_parse_error(self) -> None:
        for bad in (b"{not json", "[1, 2", b'{"type": "run.start", "run": "\xff"}'):
            with self.subTest(message=bad):
                with self.assertRaises(baton.ParseError) as caught:
                    self.session.push(bad)
                self.assertRefusal(caught.exception, baton.ParseError, "parse")

    def test_invalid_event_names_the_field(self) -> None:
        self.session.push({"type": "run.start", "run": "inv"})
        with self.assertRaises(baton.InvalidEvent) as caught:
            self.session.push({"type": "test.end", "run": "inv", "status": "passed"})
        self.assertRefusal(caught.exception, baton.InvalidEvent, "invalid")
        self.assertIn("id", caught.exception.message)
        with self.assertRaises(baton.InvalidEvent):
            self.session.push({"type": "no.such.type", "run": "inv"})

    def test_access_denied_for_a_foreign_client_field(self) -> None:
        with self.assertRaises(baton.AccessDenied) as caught:
            self.session.push({"type": "run.start", "run": "d1", "client": "someone-else"})
        self.assertRefusal(caught.exception, baton.AccessDenied, "denied")

    def test_conflict_for_unknown_run(self) -> None:
        with self.assertRaises(baton.Conflict) as caught:
            self.session.push({"type": "test.start", "run": "never-started", "id": "t", "name": "t"})
        self.assertRefusal(caught.exception, baton.Conflict, "conflict")

    def test_not_found(self) -> None:
        with self.assertRaises(baton.NotFound) as caught:
            self.engine.query({"op": "run", "run": "nowhere"})
        self.assertRefusal(caught.exception, baton.NotFound, "not_found")

    def test_rejected_by_a_filter(self) -> None:
        self.engine.add_plugin("no", filter=lambda event: False)
        with self.assertRaises(baton.Rejected) as caught:
            self.session.push({"type": "run.start", "run": "rej"})
        self.assertRefusal(caught.exception, baton.Rejected, "rejected")

    def test_invalid_argument_for_a_push_from_a_callback(self) -> None:
        inner = self.engine.session({"client": "inner"})
        seen = []

        def reentrant(event: baton.Event) -> None:
            if event.data.get("run") == "outer":
                try:
                    inner.push({"type": "run.start", "run": "nested"})
                except baton.BatonError as exc:
                    seen.append(exc)

        self.engine.add_plugin("reentrant", filter=reentrant)
        self.session.push({"type": "run.start", "run": "outer"})
        self.assertEqual(len(seen), 1)
        self.assertRefusal(seen[0], baton.InvalidArgument, "invalid_argument")

    def test_storage_error(self) -> None:
        folder = self.temp_dir()
        blocker = os.path.join(folder, "a-file")
        with open(blocker, "w") as f:
            f.write("not a folder")
        with self.assertRaises(baton.BatonError) as caught:
            baton.Engine({"path": os.path.join(blocker, "runs.db")})
        self.assertIsInstance(caught.exception, (baton.StorageError, baton.InvalidArgument))
        self.assertTrue(caught.exception.message)

    def test_closed(self) -> None:
        self.session.close()
        with self.assertRaises(baton.Closed) as caught:
            self.session.push({"type": "run.start", "run": "late"})
        self.assertRefusal(caught.exception, baton.Closed, "closed")

    def test_push_raw_returns_status_and_reply_without_raising(self) -> None:
        status, reply = self.session.push_raw(b"{broken")
        self.assertEqual(status, baton.EPARSE)
        self.assertEqual(json.loads(reply)["code"], "parse")
        status, reply = self.session.push_raw({"type": "run.start", "run": "raw"})
        self.assertEqual(status, baton.OK)
        self.assertTrue(json.loads(reply)["ok"])


class RateLimitTest(EngineTestCase):
    def options(self):
        return {
            "clock": "manual",
            "rate_limit": {"per_client": {"events": 1, "per_ms": 60000, "burst": 1}},
        }

    def test_rate_limited_carries_retry_after(self) -> None:
        self.engine.clock_set(1_000_000)
        refused = None
        for i in range(20):
            try:
                self.session.push({"type": "run.start", "run": f"rl{i}"})
            except baton.RateLimited as exc:
                refused = exc
                break
        assert refused is not None, "one event a minute cannot admit 20 at once"
        self.assertEqual(refused.status, baton.ERATE_LIMITED)
        self.assertEqual(refused.code, "rate_limited")
        self.assertEqual(refused.reply["code"], "rate_limited")
        self.assertIsInstance(refused.retry_after_ms, int)
        self.assertGreater(refused.retry_after_ms, 0)
        self.assertLessEqual(refused.retry_after_ms, 60000)
        status, reply = self.session.push_raw({"type": "run.start", "run": "again"})
        self.assertEqual(status, baton.ERATE_LIMITED)
        self.engine.clock_set(1_000_000 + 10 * 60_000)
        self.assertTrue(self.session.push({"type": "run.start", "run": "later"})["ok"])


class ErrorForTest(EngineTestCase):
    def test_internal_and_unknown_statuses(self) -> None:
        exc = baton.error_for(baton.EINTERNAL, "it broke")
        self.assertIsInstance(exc, baton.InternalError)
        self.assertEqual(exc.reply, {"ok": False, "code": "internal", "error": "it broke"})
        unknown = baton.error_for(-99, "", {"ok": False, "code": "future", "error": "new"})
        self.assertIs(type(unknown), baton.BatonError)
        self.assertEqual((unknown.status, unknown.code, unknown.message), (-99, "future", "new"))
        by_code = baton.error_for(-99, "", {"ok": False, "code": "denied", "error": "no"})
        self.assertIsInstance(by_code, baton.AccessDenied)
        user = baton.error_for(baton.EUSER, "")
        self.assertIsInstance(user, baton.CallbackError)
        self.assertIn("-12", user.message)
