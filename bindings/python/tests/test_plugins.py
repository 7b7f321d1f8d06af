"""Plugins written in Python: filters, observers, destroy-once, and exceptions in callbacks."""

from __future__ import annotations

import gc
import json
import threading
import unittest
import weakref
from typing import List
from unittest import mock

import baton
from baton import _engine

from .support import EngineTestCase


class FilterTest(EngineTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.session.push({"type": "run.start", "run": "f"})

    def test_filter_sees_the_event_before_it_has_a_seq(self) -> None:
        seen: List[tuple] = []
        self.engine.add_plugin("peek", filter=lambda ev: seen.append((ev.type, ev.seq, ev.data)))
        self.session.push({"type": "test.start", "run": "f", "id": "a", "name": "a"})
        self.assertEqual(len(seen), 1)
        event_type, seq, data = seen[0]
        self.assertEqual(event_type, "test.start")
        self.assertEqual(seq, 0)
        self.assertEqual(data["id"], "a")

    def test_filter_rewrites_the_event(self) -> None:
        def redact(event: baton.Event) -> None:
            if event.type == "test.end" and "error" in event.data:
                data = dict(event.data)
                data["error"] = {"message": "[redacted]"}
                event.replace(data)
                self.assertEqual(event.data["error"]["message"], "[redacted]")

        self.engine.add_plugin("redact", filter=redact)
        self.session.push({"type": "test.start", "run": "f", "id": "s", "name": "s"})
        self.session.push({"type": "test.end", "run": "f", "id": "s", "status": "failed",
                           "error": {"message": "password=hunter2"}})
        exported = self.engine.export("f", "json")
        self.assertNotIn("hunter2", exported)
        self.assertIn("[redacted]", exported)
        stored = [ev.json for ev in self.engine.replay(run="f", types=["test.end"])]
        self.assertEqual(len(stored), 1)
        self.assertIn("[redacted]", stored[0])

    def test_replace_accepts_text(self) -> None:
        self.engine.add_plugin(
            "rename",
            filter=lambda ev: ev.replace(ev.json.replace('"name":"old"', '"name":"new"'))
            if ev.type == "test.start" else None,
        )
        self.session.push('{"type":"test.start","run":"f","id":"n","name":"old"}')
        starts = [ev.data for ev in self.engine.replay(run="f", types=["test.start"])]
        self.assertEqual(starts[-1]["name"], "new")

    def test_filter_rejects_with_false_and_keeps_with_true_or_none(self) -> None:
        self.engine.add_plugin("gate", filter=lambda ev: ev.data.get("name") != "blocked")
        self.assertTrue(self.session.push({"type": "test.start", "run": "f", "id": "ok", "name": "ok"})["ok"])
        with self.assertRaises(baton.Rejected) as caught:
            self.session.push({"type": "test.start", "run": "f", "id": "b", "name": "blocked"})
        self.assertEqual(caught.exception.reply["code"], "rejected")
        tests = json.dumps(self.engine.query({"op": "tests", "run": "f"}))
        self.assertIn('"ok"', tests)
        self.assertNotIn("blocked", tests)

    def test_filter_returning_something_else_fails_closed(self) -> None:
        self.engine.add_plugin("sloppy", filter=lambda ev: [])  # type: ignore[arg-type,return-value]
        with self.assertRaises(TypeError) as caught:
            self.session.push({"type": "test.start", "run": "f", "id": "s", "name": "s"})
        self.assertIn("'sloppy' returned a list", str(caught.exception))
        self.assertNotIn('"s"', json.dumps(self.engine.query({"op": "tests", "run": "f"})))

    def test_invalid_replacement_refuses_the_event(self) -> None:
        self.engine.add_plugin("bad", filter=lambda ev: ev.replace("{broken"))
        with self.assertRaises(baton.BatonError) as caught:
            self.session.push({"type": "test.start", "run": "f", "id": "x", "name": "x"})
        self.assertIsInstance(caught.exception, (baton.Rejected, baton.ParseError))
        self.assertNotIn('"x"', json.dumps(self.engine.query({"op": "tests", "run": "f"})))

    def test_replacement_breaking_the_schema_refuses_the_event(self) -> None:
        self.engine.add_plugin("bad", filter=lambda ev: ev.replace({"type": "test.start"}))
        with self.assertRaises(baton.BatonError) as caught:
            self.session.push({"type": "test.start", "run": "f", "id": "x", "name": "x"})
        self.assertIsInstance(caught.exception, (baton.Rejected, baton.InvalidEvent))
        self.assertIn("run", caught.exception.message)

    def test_filter_exception_is_reraised_and_the_event_not_applied(self) -> None:
        def explode(event: baton.Event) -> None:
            raise ZeroDivisionError("filter exploded")

        plugin = self.engine.add_plugin("explode", filter=explode)
        with self.assertRaises(ZeroDivisionError) as caught:
            self.session.push({"type": "test.start", "run": "f", "id": "z", "name": "z"})
        self.assertIn("filter exploded", str(caught.exception))
        self.assertNotIn('"z"', json.dumps(self.engine.query({"op": "tests", "run": "f"})))
        # push_raw re-raises too: a callback's exception is never swallowed.
        with self.assertRaises(ZeroDivisionError):
            self.session.push_raw({"type": "test.start", "run": "f", "id": "z", "name": "z"})
        plugin.remove()
        self.assertTrue(self.session.push({"type": "test.start", "run": "f", "id": "z", "name": "z"})["ok"])

    def test_event_outlives_its_callback_read_only(self) -> None:
        kept: List[baton.Event] = []
        self.engine.add_plugin("keep", filter=kept.append)
        self.session.push({"type": "test.start", "run": "f", "id": "k", "name": "k"})
        event = kept[0]
        self.assertEqual(event.type, "test.start")
        self.assertEqual(event.data["name"], "k")
        self.assertIn("test.start", repr(event))
        with self.assertRaises(baton.Closed):
            event.replace({"type": "test.start", "run": "f", "id": "k", "name": "late"})

    def test_query_from_a_filter(self) -> None:
        answers = []
        self.engine.add_plugin(
            "asks", filter=lambda ev: answers.append(self.engine.query({"op": "run", "run": "f"})))
        self.session.push({"type": "test.start", "run": "f", "id": "q", "name": "q"})
        self.assertEqual(answers[0]["run"], "f")
        self.assertEqual(json.loads(self.engine.export("f", "json"))["tests"][0]["name"], "q")

    def test_replay_from_a_filter_is_refused_and_leaves_the_engine_intact(self) -> None:
        # Replay parses stored events on the calling thread, under the event
        # being filtered, so baton refuses it from inside callbacks.
        refused = []

        def replaying(event: baton.Event) -> None:
            try:
                list(self.engine.replay())
            except baton.InvalidArgument as exc:
                refused.append(exc)

        self.engine.add_plugin("replays", filter=replaying)
        self.session.push({"type": "test.start", "run": "f", "id": "r", "name": "r"})
        self.assertEqual(len(refused), 1)
        self.assertIn("callback", str(refused[0]))
        tests = self.engine.query({"op": "tests", "run": "f"})
        self.assertIn('"r"', json.dumps(tests))

    def test_exception_of_a_callback_outside_any_call_is_raised_by_the_next_call(self) -> None:
        # A callback that baton runs on a thread of its own is inside no Python call.
        stray = threading.Thread(target=lambda: self.engine._sink.capture(LookupError("late")))
        stray.start()
        stray.join()
        with self.assertRaises(LookupError):
            self.engine.flush()
        self.engine.flush()  # raised once only

    def test_closing_from_a_callback_is_refused(self) -> None:
        errors = []

        def closer(event: baton.Event) -> None:
            try:
                self.engine.close()
            except baton.InvalidArgument as exc:
                errors.append(exc)

        self.engine.add_plugin("closer", filter=closer)
        self.session.push({"type": "test.start", "run": "f", "id": "c", "name": "c"})
        self.assertEqual(len(errors), 1)
        self.assertFalse(self.engine.closed)


class ObserveTest(EngineTestCase):
    def test_observer_sees_applied_events_with_seq(self) -> None:
        seen: List[tuple] = []
        self.engine.add_plugin("watch", observe=lambda ev: seen.append((ev.type, ev.seq, ev.json)))
        replies = [
            self.session.push({"type": "run.start", "run": "o"}),
            self.session.push({"type": "test.start", "run": "o", "id": "t", "name": "t"}),
            self.session.push({"type": "test.end", "run": "o", "id": "t", "status": "passed"}),
        ]
        self.engine.flush()
        self.assertEqual([s[0] for s in seen], ["run.start", "test.start", "test.end"])
        self.assertEqual([s[1] for s in seen], [r["seq"] for r in replies])
        self.assertEqual(json.loads(seen[2][2])["status"], "passed")

    def test_observer_does_not_see_refused_events(self) -> None:
        seen: List[str] = []
        self.engine.add_plugin("watch", observe=lambda ev: seen.append(ev.type))
        with self.assertRaises(baton.ParseError):
            self.session.push(b"{nope")
        self.assertEqual(seen, [])

    def test_observer_exception_is_reraised_after_the_event_is_applied(self) -> None:
        def fragile(event: baton.Event) -> None:
            raise RuntimeError("observer broke")

        self.engine.add_plugin("fragile", observe=fragile)
        with self.assertRaises(RuntimeError):
            self.session.push({"type": "run.start", "run": "applied"})
        self.assertEqual(self.engine.query({"op": "run", "run": "applied"})["run"], "applied")

    def test_observer_returning_false_is_counted_not_raised(self) -> None:
        self.engine.add_plugin("unhappy", observe=lambda ev: False)
        self.assertTrue(self.session.push({"type": "run.start", "run": "counted"})["ok"])
        stats = json.dumps(self.engine.query({"op": "stats"}))
        self.assertIn("unhappy", stats)

    def test_observer_cannot_replace(self) -> None:
        errors = []

        def tamper(event: baton.Event) -> None:
            try:
                event.replace({"type": "run.start", "run": "other"})
            except baton.Conflict as exc:
                errors.append(exc)

        self.engine.add_plugin("tamper", observe=tamper)
        self.session.push({"type": "run.start", "run": "kept"})
        self.assertEqual(len(errors), 1)


class LifetimeTest(EngineTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.unmatched = _engine._unmatched_destroy_calls

    def tearDown(self) -> None:
        self.assertEqual(_engine._unmatched_destroy_calls, self.unmatched,
                         "baton called a destroy callback twice")

    def test_callbacks_stay_alive_without_other_references(self) -> None:
        calls: List[str] = []

        def install() -> baton.Plugin:
            def only_here(event: baton.Event) -> None:
                calls.append(event.type)

            return self.engine.add_plugin("scoped", filter=only_here, observe=only_here)

        plugin = install()
        gc.collect()
        gc.collect()
        self.session.push({"type": "run.start", "run": "alive"})
        self.assertEqual(calls, ["run.start", "run.start"])
        self.assertTrue(plugin.active)

    def test_remove_destroys_once_and_releases_the_callables(self) -> None:
        calls: List[str] = []

        class Counter:
            def __call__(self, event: baton.Event) -> None:
                calls.append(event.type)

        counter = Counter()
        counter_ref = weakref.ref(counter)
        plugin = self.engine.add_plugin("counter", observe=counter)
        del counter
        self.session.push({"type": "run.start", "run": "rm"})
        self.assertEqual(calls, ["run.start"])
        self.assertIn("active", repr(plugin))
        plugin.remove()
        self.assertFalse(plugin.active)
        self.assertEqual(plugin.destroy_calls, 1)
        plugin.remove()
        self.assertEqual(plugin.destroy_calls, 1)
        gc.collect()
        self.assertIsNone(counter_ref())
        self.session.push({"type": "run.end", "run": "rm", "status": "passed"})
        self.assertEqual(calls, ["run.start"])

    def test_close_destroys_every_plugin_once(self) -> None:
        engine = baton.Engine()
        plugins = [engine.add_plugin(f"p{i}", filter=lambda ev: None, observe=lambda ev: None)
                   for i in range(5)]
        plugins[0].remove()
        keys_before = len(_engine._contexts)
        engine.close()
        self.assertEqual([p.destroy_calls for p in plugins], [1] * 5)
        self.assertEqual(len(_engine._contexts), keys_before - 4)
        plugins[1].remove()  # after close: a no-op
        self.assertEqual(plugins[1].destroy_calls, 1)

    def test_failed_add_calls_destroy_and_releases_the_context(self) -> None:
        created: List[_engine._PluginContext] = []

        class Recording(_engine._PluginContext):
            __slots__ = ()

            def __init__(self, *args: object) -> None:
                super().__init__(*args)  # type: ignore[arg-type]
                created.append(self)

        before = len(_engine._contexts)
        with mock.patch.object(_engine, "_PluginContext", Recording):
            with self.assertRaises(baton.InvalidArgument) as caught:
                self.engine.add_plugin("does-nothing")  # neither filter nor observe
        self.assertIn("filter", caught.exception.message)
        self.assertEqual(len(created), 1)
        self.assertEqual(created[0].destroy_calls, 1, "baton calls destroy when adding fails")
        self.assertEqual(len(_engine._contexts), before)

    def test_plugin_ids_are_distinct(self) -> None:
        a = self.engine.add_plugin("a", observe=lambda ev: None)
        b = self.engine.add_plugin("b", observe=lambda ev: None)
        self.assertNotEqual(a.id, b.id)
        self.assertEqual((a.name, b.name), ("a", "b"))
