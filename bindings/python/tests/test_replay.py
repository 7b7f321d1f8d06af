"""Replaying the event log as an iterator."""

from __future__ import annotations

import baton

from .support import EngineTestCase, push_small_run


class ReplayTest(EngineTestCase):
    def setUp(self) -> None:
        super().setUp()
        push_small_run(self.session, "a", tests=4, failing=1)   # 1 + 8 + 1 events
        push_small_run(self.session, "b", tests=2, failing=0)   # 1 + 4 + 1 events

    def test_replays_everything_in_order(self) -> None:
        events = list(self.engine.replay())
        self.assertEqual(len(events), 16)
        seqs = [ev.seq for ev in events]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(seqs)), 16)
        self.assertEqual(events[0].type, "run.start")
        self.assertEqual(events[0].data["run"], "a")
        self.assertTrue(all(isinstance(ev, baton.Event) for ev in events))

    def test_filter_by_run_types_and_from_seq(self) -> None:
        only_b = list(self.engine.replay(run="b"))
        self.assertEqual(len(only_b), 6)
        self.assertTrue(all(ev.data["run"] == "b" for ev in only_b))
        ends = list(self.engine.replay(types=["test.end"]))
        self.assertEqual(len(ends), 6)
        self.assertEqual({ev.type for ev in ends}, {"test.end"})
        ends_a = list(self.engine.replay(run="a", types=("test.end", "run.end")))
        self.assertEqual(len(ends_a), 5)
        all_events = list(self.engine.replay())
        tail = list(self.engine.replay(from_seq=all_events[10].seq))
        self.assertEqual([ev.seq for ev in tail], [ev.seq for ev in all_events[10:]])

    def test_chunks_give_the_same_events(self) -> None:
        whole = [(ev.seq, ev.json) for ev in self.engine.replay()]
        for chunk_size in (1, 2, 3, 16, 17):
            with self.subTest(chunk_size=chunk_size):
                chunked = [(ev.seq, ev.json) for ev in self.engine.replay(chunk_size=chunk_size)]
                self.assertEqual(chunked, whole)
        with self.assertRaises(ValueError):
            self.engine.replay(chunk_size=0)

    def test_iterator_is_lazy_and_can_stop_early(self) -> None:
        iterator = self.engine.replay(chunk_size=4)
        first = next(iterator)
        self.assertEqual(first.type, "run.start")
        iterator.close()
        self.assertEqual(list(self.engine.replay(run="a", types=["test.log"])), [])
        with self.assertRaises(baton.NotFound):
            list(self.engine.replay(run="nobody"))

    def test_replay_after_close_raises_closed(self) -> None:
        iterator = self.engine.replay(chunk_size=2)
        next(iterator)
        next(iterator)
        self.engine.close()
        with self.assertRaises(baton.Closed):
            list(iterator)
