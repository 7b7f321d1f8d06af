"""Ingests a JSON Lines stream (a file, or a generated one) into baton, counts failures
with an observer plugin and prints each run's summary.   python3 python_ingest.py [FILE]"""
import collections, json, os, sys; sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))
import baton  # noqa: E402  (the binding from this repository)

def generated(run="py-example", tests=40):
    yield {"type": "run.start", "run": run}
    for i in range(tests):
        yield {"type": "test.start", "run": run, "id": f"t{i}", "name": f"case {i}"}
        yield {"type": "test.end", "run": run, "id": f"t{i}", "status": "failed" if i % 9 == 4 else "passed"}
    yield {"type": "run.end", "run": run}
failures = collections.Counter()
def count_failures(event):  # an observer: runs after each event is applied
    if event.type == "test.end" and event.data["status"] in ("failed", "timedout"):
        failures[event.data["run"]] += 1

with baton.Engine({"path": os.environ.get("BATON_DB", ":memory:")}) as engine:
    engine.add_plugin("failure-counter", observe=count_failures)
    sessions, runs = {}, {}  # one session per client, as a server opens one per connection
    for line in (open(sys.argv[1]) if len(sys.argv) > 1 else map(json.dumps, generated())):
        message = json.loads(line)
        client = message.get("client", "python-ingest")
        session = sessions.get(client) or sessions.setdefault(client, engine.session({"client": client}))
        status, _ = session.push_raw(line)
        runs[message["run"]] = runs.get(message["run"], 0) + (status != 0)
    for run, refused in runs.items():
        s = engine.query({"op": "run", "run": run})
        print(f"{run}: {s['status']}, {s['counts']['tests']} tests, {s['counts']['failed']} failed, "
              f"{s['counts']['flaky']} flaky; observer saw {failures[run]} failed attempts; {refused} refused")
