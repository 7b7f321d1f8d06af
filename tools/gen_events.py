#!/usr/bin/env python3
"""Generate a baton event stream (JSON Lines) with known totals.

usage: gen_events.py [--tests N] [--clients C] [--run ID] [--seed S]
                     [--fail-rate R] [--skip-rate R] [--expect FILE] > events.jsonl

Each client reports its share of the suites and tests (test.start + test.end,
with a second attempt for failed tests, some of which then pass: flaky). The
clients' streams are interleaved as they would arrive at a server; each client
numbers its messages with its own increasing seq. With --expect, the run
summary counts the stream implies are written to FILE as JSON, so a test can
check what baton computed against what was sent.
"""
import argparse
import json
import random
import sys


def generate(tests, clients, run, seed, fail_rate, skip_rate):
    rnd = random.Random(seed)
    t0 = 1764000000000
    streams = {f"ci-{c}": [] for c in range(clients)}
    final = {}
    flaky = set()

    def emit(client, event):
        streams[client].append(event)

    emit("ci-0", {"type": "run.start", "run": run, "ts": t0, "name": f"{run} (generated)",
                  "config": {"retries": 1}})
    suites = max(1, tests // 20)
    per_suite = [tests // suites + (1 if s < tests % suites else 0) for s in range(suites)]
    for s, count in enumerate(per_suite):
        client = f"ci-{s % clients}"
        suite = f"suite-{s}"
        ts = t0 + 1000 * (s + 1)
        emit(client, {"type": "suite.start", "run": run, "id": suite,
                      "name": f"pkg/area_{s}.spec.js", "file": f"pkg/area_{s}.spec.js", "ts": ts})
        for i in range(count):
            test = f"{suite}/case-{i}"
            name = f"area {s} case {i}"
            r = rnd.random()
            status = "failed" if r < fail_rate else "skipped" if r < fail_rate + skip_rate else "passed"
            emit(client, {"type": "test.start", "run": run, "id": test, "suite": suite,
                          "name": name, "attempt": 1, "ts": ts + i})
            end = {"type": "test.end", "run": run, "id": test, "status": status, "attempt": 1,
                   "duration_ms": rnd.randint(1, 400), "ts": ts + i + 1}
            if status == "failed":
                end["error"] = {"message": f"expected {i} to be {i + 1}"}
            emit(client, end)
            if status == "failed":
                retry = "passed" if rnd.random() < 0.5 else "failed"
                emit(client, {"type": "test.start", "run": run, "id": test, "suite": suite,
                              "name": name, "attempt": 2, "ts": ts + i + 2})
                emit(client, {"type": "test.end", "run": run, "id": test, "status": retry,
                              "attempt": 2, "duration_ms": rnd.randint(1, 400), "ts": ts + i + 3})
                if retry == "passed":
                    flaky.add(test)
                status = retry
            final[test] = status
        emit(client, {"type": "suite.end", "run": run, "id": suite, "ts": ts + 999})

    # Interleave the clients the way a server would see them, keeping each
    # client's own order; run.start comes first and run.end last.
    first = streams["ci-0"].pop(0)
    order = [first]
    queues = {c: list(evs) for c, evs in streams.items()}
    while any(queues.values()):
        for c in list(queues):
            take = rnd.randint(1, 4)
            for e in queues[c][:take]:
                order.append((c, e))
            del queues[c][:take]
    lines = []
    seqs = {}

    def stamp(client, event):
        seqs[client] = seqs.get(client, 0) + 1
        event = dict(event, client=client, seq=seqs[client])
        lines.append(json.dumps(event, separators=(",", ":")))

    stamp("ci-0", first)
    for client, event in order[1:]:
        stamp(client, event)
    stamp("ci-0", {"type": "run.end", "run": run, "ts": t0 + 10 ** 6})

    counts = {
        "tests": len(final),
        "passed": sum(1 for v in final.values() if v == "passed"),
        "failed": sum(1 for v in final.values() if v == "failed"),
        "skipped": sum(1 for v in final.values() if v == "skipped"),
        "flaky": len(flaky),
    }
    expect = {"run": run, "messages": len(lines), "counts": counts,
              "status": "failed" if counts["failed"] else "passed"}
    return lines, expect


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tests", type=int, default=200)
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--run", default="gen-run-1")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--fail-rate", type=float, default=0.1)
    p.add_argument("--skip-rate", type=float, default=0.05)
    p.add_argument("--expect", help="write the expected summary counts here")
    a = p.parse_args()
    lines, expect = generate(a.tests, a.clients, a.run, a.seed, a.fail_rate, a.skip_rate)
    sys.stdout.write("\n".join(lines) + "\n")
    if a.expect:
        with open(a.expect, "w") as f:
            json.dump(expect, f)


if __name__ == "__main__":
    main()
