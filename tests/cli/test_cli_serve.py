#!/usr/bin/env python3
"""baton serve over real WebSockets: a run recorded end to end, exactly-once
resend after a dropped connection, access, limits, origins, health, and a
SIGTERM under load that loses no acknowledged event."""
import hashlib
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baton_test_util import (Closed, HandshakeRefused, Server, TempDir, WebSocket,  # noqa: E402
                             gen_events, main, run)

GOOD_TOKEN = "s3cret-token-for-tests"


def access_options(roles=("reporter", "worker", "viewer")):
    digest = hashlib.sha256(GOOD_TOKEN.encode()).hexdigest()
    return json.dumps({"access": {"tokens": [{"sha256": digest, "roles": list(roles)}]}})


def test_healthz_and_http_routes(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "s.db")) as s:
        assert s.http_get("/healthz") == (200, '{"ok":true}')
        status, body = s.http_get("/nowhere")
        assert status == 404 and json.loads(body)["ok"] is False
        status, _ = s.http_get("/runs/no-such-run")
        assert status == 404
        code, _ = s.stop()
        assert code == 0


def test_run_recorded_end_to_end(baton):
    with TempDir() as d:
        events, db = os.path.join(d, "events.jsonl"), os.path.join(d, "s.db")
        expect = gen_events(events, os.path.join(d, "expect.json"), tests=150, clients=3,
                            run="ws-run")
        with Server(baton, db) as s:
            # Two ways to name the client: a header, and a hello message.
            sockets = {
                "ci-0": s.connect(headers={"X-Baton-Client": "ci-0"}),
                "ci-1": s.connect(path="/?client=ci-1"),
                "ci-2": s.connect(),
            }
            assert sockets["ci-2"].request({"type": "hello", "client": "ci-2"}) == \
                {"ok": True, "hello": True}
            with open(events) as f:
                for line in f:
                    msg = json.loads(line)
                    reply = sockets[msg["client"]].request(line.strip())
                    assert reply["ok"] is True and "dup" not in reply, (line, reply)
            answer = sockets["ci-0"].request({"type": "query", "op": "run", "run": "ws-run"})
            assert answer["ok"] is True, answer
            for key, value in expect["counts"].items():
                assert answer["result"]["counts"][key] == value, (key, answer)
            status, body = s.http_get("/runs/ws-run")
            assert status == 200 and json.loads(body)["counts"] == answer["result"]["counts"]
            for ws in sockets.values():
                ws.close()
            code, _ = s.stop()
            assert code == 0
        # What the server acknowledged is in the database after it stopped.
        p = run(baton, "summary", "ws-run", "--db", db, "--json")
        assert json.loads(p.stdout)["counts"] == answer["result"]["counts"]


def test_reconnect_and_resend_applies_nothing_twice(baton):
    with TempDir() as d:
        db = os.path.join(d, "s.db")
        with Server(baton, db) as s:
            hdr = {"X-Baton-Client": "flaky-ci"}
            ws = s.connect(headers=hdr)
            msgs = [{"type": "run.start", "run": "rs", "client": "flaky-ci", "seq": 1}]
            for i in range(1, 6):
                msgs.append({"type": "test.start", "run": "rs", "id": f"t{i}", "name": f"t{i}",
                             "client": "flaky-ci", "seq": i + 1})
            for m in msgs:
                assert ws.request(m)["ok"] is True
            ws.drop()  # the CI machine loses its network; the last replies may be lost
            ws = s.connect(headers=hdr)
            for m in msgs[-3:]:  # the client resends what it is not sure about
                reply = ws.request(m)
                assert reply["ok"] is True and reply.get("dup") is True, reply
            reply = ws.request({"type": "test.start", "run": "rs", "id": "t6", "name": "t6",
                                "client": "flaky-ci", "seq": 7})
            assert reply["ok"] is True and not reply.get("dup"), reply
            ws.close()
            assert s.stop()[0] == 0
        lines = run(baton, "replay", "--db", db, "--run", "rs", check_code=0).stdout.splitlines()
        ids = [json.loads(x).get("id") for x in lines if json.loads(x)["type"] == "test.start"]
        assert ids == ["t1", "t2", "t3", "t4", "t5", "t6"], ids


def test_bad_token_is_refused(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "s.db"), "--options", access_options()) as s:
        try:
            s.connect(headers={"Authorization": "Bearer wrong", "X-Baton-Client": "ci"})
            raise AssertionError("a bad token was accepted at the handshake")
        except HandshakeRefused as e:
            assert e.status == 401 and json.loads(e.body)["ok"] is False, e
        ws = s.connect()
        reply = ws.request({"type": "hello", "client": "ci", "token": "wrong"})
        assert reply["ok"] is False and reply["code"] == "denied", reply
        try:
            ws.recv()
            raise AssertionError("the connection stayed open after a refused hello")
        except Closed as c:
            assert c.code == 1008, c.code
        # No credentials at all: the first event is refused, then the connection closes.
        ws = s.connect()
        reply = ws.request({"type": "run.start", "run": "r"})
        assert reply["ok"] is False and reply["code"] == "denied", reply
        ws.drop()
        ok = s.connect(headers={"Authorization": f"Bearer {GOOD_TOKEN}", "X-Baton-Client": "ci"})
        assert ok.request({"type": "run.start", "run": "r", "client": "ci", "seq": 1})["ok"] is True
        assert ok.request({"type": "query", "op": "run", "run": "r"})["ok"] is True
        ok.close()
        status, _ = s.http_get("/runs/r")
        assert status == 401, status
        status, _ = s.http_get("/runs/r", {"Authorization": f"Bearer {GOOD_TOKEN}"})
        assert status == 200, status
        assert s.stop()[0] == 0


def test_oversized_message_closes_with_1009(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "s.db"), "--max-message-bytes", "4096") as s:
        ws = s.connect()
        assert ws.request({"type": "run.start", "run": "big"})["ok"] is True
        ws.send(json.dumps({"type": "test.log", "run": "big", "id": "t", "message": "x" * 10000}))
        try:
            print(ws.recv())
            raise AssertionError("an oversized message was answered")
        except Closed as c:
            assert c.code == 1009, c.code
        ws = s.connect()  # the server itself is fine
        assert ws.request({"type": "query", "op": "run", "run": "big"})["ok"] is True
        ws.close()
        assert s.stop()[0] == 0


def test_origin_allowlist_and_binary_frames(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "s.db"), "--origin",
                                "https://dash.example") as s:
        s.connect(headers={"Origin": "https://dash.example"}).close()
        try:
            s.connect(headers={"Origin": "https://evil.example"})
            raise AssertionError("a foreign origin was accepted")
        except HandshakeRefused as e:
            assert e.status == 403, e
        ws = s.connect()  # no Origin: not a browser, not affected
        ws.send_frame(0x2, b'{"type":"run.start","run":"bin"}')
        reply = json.loads(ws.recv())
        assert reply["ok"] is False and "text" in reply["error"], reply
        ws.close()
        assert s.stop()[0] == 0


def test_config_file_and_flags(baton):
    with TempDir() as d:
        cfg = os.path.join(d, "serve.json")
        with open(cfg, "w") as f:
            json.dump({"db": os.path.join(d, "c.db"), "port": 0, "threads": 3,
                       "max_message_bytes": 2048, "idle_timeout_ms": 5000, "log": "error"}, f)
        with Server(baton, os.path.join(d, "flag.db"), "--config", cfg) as s:
            ws = s.connect()
            assert ws.request({"type": "run.start", "run": "cfg"})["ok"] is True
            ws.send("{" + " " * 3000 + "}")
            try:
                ws.recv()
                raise AssertionError("max_message_bytes from the config file was ignored")
            except Closed as c:
                assert c.code == 1009
            assert s.stop()[0] == 0
        assert os.path.exists(os.path.join(d, "flag.db")), "--db did not win over the config file"
        with open(cfg, "w") as f:
            json.dump({"db": "x.db", "colour": "blue"}, f)
        p = run(baton, "serve", "--config", cfg, check_code=2)
        assert "colour" in p.stderr
        run(baton, "serve", "--db", os.path.join(d, "x.db"), "--port", "99999", check_code=2)


def test_startup_errors_say_what_to_do(baton):
    with TempDir() as d:
        p = run(baton, "serve", "--db", os.path.join(d, "no", "such", "dir.db"), "--port", "0",
                check_code=3)
        assert "directory exists" in p.stderr, p.stderr
        with Server(baton, os.path.join(d, "a.db")) as s:
            p = run(baton, "serve", "--db", os.path.join(d, "b.db"), "--port", str(s.port),
                    check_code=3)
            assert "cannot bind" in p.stderr and "--port" in p.stderr, p.stderr
            assert s.stop()[0] == 0
        p = run(baton, "serve", "--db", os.path.join(d, "c.db"), "--bind", "localhost-ish",
                check_code=2)
        p = run(baton, "serve", "--db", os.path.join(d, "c.db"), "--options", "[1]", check_code=2)
        assert "--options" in p.stderr, p.stderr
        p = run(baton, "serve", "--db", os.path.join(d, "c.db"), "--options",
                '{"no_such_option":1}', check_code=2)
        assert "no_such_option" in p.stderr, p.stderr
        # One database: a SQLite file or a PostgreSQL DSN, not both, not none.
        p = run(baton, "serve", "--db", os.path.join(d, "c.db"), "--dsn", "dbname=x", check_code=2)
        assert "--db and --dsn" in p.stderr, p.stderr
        p = run(baton, "serve", "--port", "0", check_code=2)
        assert "--db PATH or --dsn DSN" in p.stderr, p.stderr
        # An unreachable PostgreSQL server is a runtime error; the DSN (it may
        # hold a password) is not printed.
        dsn = f"host={d} port=1 dbname=baton user=nobody password=s3cret connect_timeout=2"
        p = run(baton, "serve", "--dsn", dsn, "--port", "0", check_code=3)
        assert "PostgreSQL" in p.stderr and "s3cret" not in p.stderr, p.stderr


def test_idle_connection_is_pinged_and_kept(baton):
    with TempDir() as d, Server(baton, os.path.join(d, "s.db"), "--idle-timeout-ms", "600") as s:
        ws = s.connect()
        assert ws.request({"type": "run.start", "run": "idle"})["ok"] is True
        # recv() answers the server's pings; a client that answers stays connected.
        try:
            ws.recv(deadline=time.time() + 1.5)
            raise AssertionError("the server sent a message nobody asked for")
        except TimeoutError:
            pass
        assert ws.pings >= 1, "no ping within twice the idle timeout"
        ws.sock.settimeout(10)
        assert ws.request({"type": "query", "op": "run", "run": "idle"})["ok"] is True
        # A client that never answers the pings is closed after the idle timeout.
        silent = s.connect()
        time.sleep(2.0)
        try:
            while True:
                silent.recv(deadline=time.time() + 5)
        except TimeoutError:
            raise AssertionError("a connection that answered no ping was kept open")
        except (Closed, OSError):
            pass
        ws.close()
        assert s.stop()[0] == 0


def sigterm_under_load(baton, durability):
    with TempDir() as d:
        db = os.path.join(d, "load.db")
        acked = {}
        s = Server(baton, db, "--threads", "3", "--durability", durability)
        try:
            ws = s.connect(headers={"X-Baton-Client": "starter"})
            assert ws.request({"type": "run.start", "run": "load", "client": "starter",
                               "seq": 1})["ok"] is True
            ws.close()
            stop = threading.Event()

            def client(name):
                acked[name] = []
                try:
                    w = s.connect(headers={"X-Baton-Client": name})
                    seq = 0
                    while not stop.is_set():
                        seq += 1
                        tid = f"{name}-{seq}"
                        reply = w.request({"type": "test.start", "run": "load", "id": tid,
                                           "name": tid, "client": name, "seq": seq})
                        if reply.get("ok"):
                            acked[name].append(tid)
                except (Closed, OSError, ValueError):
                    pass  # the server went away mid-stream: what was acked must survive

            threads = [threading.Thread(target=client, args=(f"load-{i}",)) for i in range(4)]
            for t in threads:
                t.start()
            # Stop while the clients are busy: after some load, however slow the machine.
            deadline = time.time() + 15
            while sum(len(v) for v in acked.values()) < 300 and time.time() < deadline:
                time.sleep(0.05)
            s.proc.send_signal(signal.SIGTERM)
            code, err = s.proc.wait(timeout=30), s.proc.stderr.read()
            stop.set()
            for t in threads:
                t.join(timeout=30)
            assert code == 0, (code, err)
        finally:
            s.__exit__()
        total = sum(len(v) for v in acked.values())
        assert total > 50, f"only {total} events were acknowledged under load"
        lines = run(baton, "replay", "--db", db, "--run", "load", "--types", "test.start",
                    check_code=0).stdout.splitlines()
        recorded = {json.loads(x)["id"] for x in lines}
        missing = [tid for ids in acked.values() for tid in ids if tid not in recorded]
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:5]}"


def test_sigterm_under_load_loses_no_acknowledged_event(baton):
    sigterm_under_load(baton, "normal")


def test_sigterm_under_load_async_durability_flushes_everything(baton):
    # In async mode an ack comes before the commit: the flush on SIGTERM must cover it.
    sigterm_under_load(baton, "async")


if __name__ == "__main__":
    main([test_healthz_and_http_routes, test_run_recorded_end_to_end,
          test_reconnect_and_resend_applies_nothing_twice, test_bad_token_is_refused,
          test_oversized_message_closes_with_1009, test_origin_allowlist_and_binary_frames,
          test_config_file_and_flags, test_startup_errors_say_what_to_do,
          test_idle_connection_is_pinged_and_kept,
          test_sigterm_under_load_loses_no_acknowledged_event,
          test_sigterm_under_load_async_durability_flushes_everything])
