"""Several threads pushing into one engine at once, each with its own session."""

from __future__ import annotations

import threading
from typing import Dict, List

import baton
from baton import _engine

from .support import EngineTestCase

THREADS = 8
TESTS_PER_THREAD = 100


class ConcurrentPushTest(EngineTestCase):
    def test_threads_push_concurrently(self) -> None:
        observed: List[int] = []
        filtered: List[int] = []
        self.engine.add_plugin("count", filter=lambda ev: filtered.append(1),
                               observe=lambda ev: observed.append(ev.seq))
        start_seq = self.session.push({"type": "run.start", "run": "par"})["seq"]
        seqs: Dict[int, List[int]] = {}
        failures: List[BaseException] = []
        start = threading.Barrier(THREADS)

        def worker(n: int) -> None:
            try:
                with self.engine.session({"client": f"worker-{n}"}) as session:
                    start.wait()
                    mine = seqs.setdefault(n, [])
                    for i in range(TESTS_PER_THREAD):
                        test_id = f"w{n}.t{i}"
                        for message in (
                            {"type": "test.start", "run": "par", "id": test_id, "name": test_id},
                            {"type": "test.end", "run": "par", "id": test_id,
                             "status": "failed" if i % 10 == 0 else "passed"},
                        ):
                            mine.append(session.push(message)["seq"])
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertEqual(failures, [])
        self.engine.flush()
        pushed = THREADS * TESTS_PER_THREAD * 2
        all_seqs = [s for mine in seqs.values() for s in mine]
        self.assertEqual(len(all_seqs), pushed)
        self.assertEqual(len(set(all_seqs)), pushed, "every event has its own seq")
        for mine in seqs.values():
            self.assertEqual(mine, sorted(mine), "a session's events keep their order")
        counts = self.engine.query({"op": "run", "run": "par"})["counts"]
        self.assertEqual(counts["tests"], THREADS * TESTS_PER_THREAD)
        self.assertEqual(counts["failed"], THREADS * TESTS_PER_THREAD // 10)
        self.assertEqual(len(filtered), pushed + 1)
        self.assertEqual(sorted(observed), sorted(all_seqs + [start_seq]))

    def test_filter_exception_goes_to_the_pushing_thread(self) -> None:
        self.session.push({"type": "run.start", "run": "exc"})

        def picky(event: baton.Event) -> None:
            if event.data.get("name", "").startswith("bad"):
                raise ValueError(event.data["name"])

        self.engine.add_plugin("picky", filter=picky)
        results: Dict[int, List[str]] = {}

        def worker(n: int) -> None:
            outcomes = results.setdefault(n, [])
            with self.engine.session({"client": f"exc-{n}"}) as session:
                for i in range(50):
                    name = f"bad-{n}-{i}" if i % 5 == 0 else f"good-{n}-{i}"
                    try:
                        session.push({"type": "test.start", "run": "exc", "id": name, "name": name})
                        outcomes.append("ok")
                    except ValueError as exc:
                        outcomes.append(str(exc))

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        for n, outcomes in results.items():
            expected = [f"bad-{n}-{i}" if i % 5 == 0 else "ok" for i in range(50)]
            self.assertEqual(outcomes, expected)

    def test_plugins_come_and_go_while_threads_push(self) -> None:
        self.session.push({"type": "run.start", "run": "churn"})
        unmatched = _engine._unmatched_destroy_calls
        stop = threading.Event()
        plugins: List[baton.Plugin] = []
        failures: List[BaseException] = []

        def churn() -> None:
            try:
                n = 0
                while not stop.is_set():
                    plugin = self.engine.add_plugin(
                        f"churn-{n}", filter=lambda ev: None, observe=lambda ev: None)
                    plugins.append(plugin)
                    plugin.remove()
                    n += 1
            except BaseException as exc:
                failures.append(exc)

        def push(n: int) -> None:
            try:
                with self.engine.session({"client": f"churn-{n}"}) as session:
                    for i in range(150):
                        session.push({"type": "test.start", "run": "churn",
                                      "id": f"{n}-{i}", "name": "x"})
            except BaseException as exc:
                failures.append(exc)

        churner = threading.Thread(target=churn)
        pushers = [threading.Thread(target=push, args=(n,)) for n in range(4)]
        churner.start()
        for thread in pushers:
            thread.start()
        for thread in pushers:
            thread.join(120)
        stop.set()
        churner.join(60)
        self.assertEqual(failures, [])
        self.assertTrue(plugins)
        self.assertTrue(all(p.destroy_calls == 1 for p in plugins))
        self.assertEqual(_engine._unmatched_destroy_calls, unmatched)
        self.assertEqual(self.engine.query({"op": "run", "run": "churn"})["counts"]["running"], 600)

    def test_close_waits_for_pushes_in_flight(self) -> None:
        engine = baton.Engine()
        session = engine.session({"client": "closing"})
        session.push({"type": "run.start", "run": "closing"})
        started = threading.Event()
        outcomes: List[str] = []

        def pusher() -> None:
            try:
                for i in range(1_000_000):
                    session.push({"type": "test.start", "run": "closing", "id": f"c{i}", "name": "c"})
                    if i == 10:
                        started.set()
                outcomes.append("finished")
            except baton.Closed:
                outcomes.append("closed")
            finally:
                started.set()

        thread = threading.Thread(target=pusher)
        thread.start()
        started.wait(60)
        engine.close()
        thread.join(60)
        self.assertEqual(outcomes, ["closed"])
        self.assertTrue(session.closed)
