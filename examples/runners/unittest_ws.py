#!/usr/bin/env python3
"""Runs Python unittest tests and streams the run to `baton serve` over a WebSocket.

    python3 examples/runners/unittest_ws.py --server ws://127.0.0.1:8787 --run nightly-7 \\
        -s tests -p 'test_*.py'
    python3 examples/runners/unittest_ws.py --server ws://... --run R pkg.test_module

Standard library only: the WebSocket client below is a small RFC 6455 client
(masked frames, text messages, ping/pong, the close handshake).

Every message carries this runner's client name and an increasing seq. Messages
are sent at once and kept until baton answers; after a dropped connection the
runner reconnects and sends every unanswered message again, in order and with
its original seq, so baton applies each exactly once (it answers the ones it
already had with "dup": true).

Under `baton worker` (BATON_SPEC set) the worker owns the run: no run.start or
run.end is sent, and each test carries the spec, the attempt (BATON_ATTEMPT)
and the worker (BATON_WORKER). Exit code: 0 when every test passed, 1 when one
failed, 3 when the server could not be reached or refused a message.
"""
import argparse
import base64
import collections
import hashlib
import json
import os
import select
import socket
import struct
import sys
import time
import traceback
import unittest
import urllib.parse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # fixed by RFC 6455 for the accept hash


class ConnectionLost(Exception):
    """The WebSocket is gone: dropped, closed by the server, or silent too long."""


class Refused(ConnectionLost):
    """The server answered the handshake with an HTTP error instead of 101."""

    def __init__(self, status, text):
        super().__init__(text)
        self.status = status


class GaveUp(Exception):
    """The server stayed unreachable for longer than the reconnect timeout."""


class WebSocketClient:
    """One client connection to ws://HOST:PORT/PATH, text messages only."""

    def __init__(self, url, headers=None, timeout=10.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "ws":
            raise ValueError(f"only ws:// URLs are supported, got {url!r}")
        host, port = parts.hostname, parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as err:
            raise ConnectionLost(f"cannot connect to {host}:{port}: {err}") from err
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        request = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                   "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        request += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self._write(("\r\n".join(request) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buffer:
            self._fill(timeout)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines if ":" in line)}
        status = status_line.split()[1:2]
        if status != ["101"]:
            self.sock.close()
            raise Refused(int(status[0]) if status and status[0].isdigit() else 0,
                          f"handshake refused: {status_line}")
        expected = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if fields.get("sec-websocket-accept") != expected:
            self.sock.close()
            raise ConnectionLost("handshake answered with a wrong Sec-WebSocket-Accept")

    def _write(self, data):
        try:
            self.sock.sendall(data)
        except OSError as err:
            raise ConnectionLost(f"send failed: {err}") from err

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except OSError as err:  # includes socket.timeout
            raise ConnectionLost(f"receive failed: {err}") from err
        if not chunk:
            raise ConnectionLost("the server closed the connection")
        self.buffer += chunk

    def _take(self, n, timeout):
        while len(self.buffer) < n:
            self._fill(timeout)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send_frame(self, opcode, payload):
        # Clients mask every frame (RFC 6455 section 5.3) with a fresh key.
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        masked = (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big") if n else b""
        self._write(head + mask + masked)

    def send_text(self, text):
        self.send_frame(0x1, text.encode())

    def readable(self):
        """True when a frame may be read without waiting."""
        if self.buffer:
            return True
        ready, _, _ = select.select([self.sock], [], [], 0)
        return bool(ready)

    def recv_text(self, timeout):
        """The next text message. Pings are answered, pongs ignored; a close frame
        is answered and raises ConnectionLost."""
        message = b""
        while True:
            b0, b1 = self._take(2, timeout)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2, timeout))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8, timeout))[0]
            payload = self._take(n, timeout)  # servers never mask
            if opcode == 0x9:
                self.send_frame(0xA, payload)
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                try:
                    self.send_frame(0x8, payload[:2])
                except ConnectionLost:
                    pass
                self.sock.close()
                raise ConnectionLost(f"closed by the server with code {code}")
            elif opcode in (0x0, 0x1):
                message += payload
                if b0 & 0x80:
                    return message.decode()

    def close(self, code=1000):
        try:
            self.send_frame(0x8, struct.pack("!H", code))
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                self.recv_text(deadline - time.monotonic())
        except (ConnectionLost, ValueError):
            pass
        finally:
            self.sock.close()


class Channel:
    """Delivers messages to baton exactly once across reconnects (client + seq)."""

    WINDOW = 64  # messages in flight before the sender waits for answers

    def __init__(self, url, client, token=None, reply_timeout=30.0, reconnect_timeout=60.0):
        self.url = url.rstrip("/") + "/?client=" + urllib.parse.quote(client)
        self.headers = {"X-Baton-Client": client}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.client = client
        self.reply_timeout = reply_timeout
        self.reconnect_timeout = reconnect_timeout
        self.seq = 0
        self.unanswered = collections.deque()  # [message, text, reply-or-None] in send order
        self.ws = None
        self.refusals = []
        self.duplicates = 0
        self.reconnects = 0

    def send(self, message, sequenced=True):
        """Queues a message and returns its slot; slot[2] holds the reply once it came."""
        if sequenced:
            self.seq += 1
            message = {**message, "client": self.client, "seq": self.seq}
        slot = [message, json.dumps(message, separators=(",", ":")), None]
        self.unanswered.append(slot)
        try:
            if self.ws:
                self.ws.send_text(slot[1])
            self._read_replies(keep=self.WINDOW - 1)
        except ConnectionLost:
            self._lost()
        return slot

    def drain(self):
        """Waits until baton has answered every message sent."""
        while self.unanswered:
            try:
                self._read_replies(keep=0)
            except ConnectionLost:
                self._lost()

    def _read_replies(self, keep):
        """Reads replies until at most `keep` are outstanding, then whatever is ready."""
        if not self.ws:
            self._connect()
        while self.unanswered and (len(self.unanswered) > keep or self.ws.readable()):
            reply = json.loads(self.ws.recv_text(self.reply_timeout))
            slot = self.unanswered.popleft()
            if reply.get("code") == "rate_limited":
                # Messages behind it may be applied already, so its seq would now
                # read as a duplicate: it goes again, later, under a new seq.
                time.sleep(reply.get("retry_after_ms", 100) / 1000)
                if "seq" in slot[0]:
                    self.seq += 1
                    slot[0] = {**slot[0], "seq": self.seq}
                    slot[1] = json.dumps(slot[0], separators=(",", ":"))
                self.unanswered.append(slot)
                self.ws.send_text(slot[1])
                continue
            slot[2] = reply
            if reply.get("dup"):
                self.duplicates += 1
            if not reply.get("ok") and "seq" in slot[0]:
                m = slot[0]
                self.refusals.append(f"{m['type']} {m.get('id', '')}: {reply.get('code')}: {reply.get('error')}")

    def _lost(self):
        if self.ws:
            self.ws.sock.close()
        self.ws = None
        self.reconnects += 1

    def _connect(self):
        """Connects (with backoff), then resends every unanswered message in order."""
        give_up = time.monotonic() + self.reconnect_timeout
        backoff = 0.1
        while True:
            try:
                self.ws = WebSocketClient(self.url, self.headers, timeout=self.reply_timeout)
                break
            except ConnectionLost as err:
                # A bad token or a forbidden origin will not get better by retrying.
                if isinstance(err, Refused) and err.status in (401, 403):
                    raise GaveUp(f"{err}: check --token and --client") from err
                if time.monotonic() + backoff > give_up:
                    raise GaveUp(f"{err}; gave up after {self.reconnect_timeout:.0f} s") from err
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
        for slot in self.unanswered:
            self.ws.send_text(slot[1])

    def close(self):
        if self.ws:
            self.ws.close()
            self.ws = None


class BatonResult(unittest.TestResult):
    """Turns unittest's callbacks into baton events: a suite per test class,
    test.start and test.end per test with its status, duration and error."""

    def __init__(self, channel, run, stream):
        super().__init__()
        self.channel, self.run, self.stream = channel, run, stream
        self.spec = os.environ.get("BATON_SPEC")
        self.attempt = int(os.environ.get("BATON_ATTEMPT", "1"))
        self.worker = os.environ.get("BATON_WORKER")
        self.suites = []
        self.current = None
        self.final_failures = 0

    def emit(self, message_type, **fields):
        return self.channel.send({"type": message_type, "run": self.run, **fields})

    def startTestRun(self):
        if not self.spec:
            self.emit("run.start", name="python unittest", platform=f"{sys.platform} python {sys.version.split()[0]}")

    def startTest(self, test):
        super().startTest(test)
        suite = f"{type(test).__module__}.{type(test).__qualname__}"
        if suite not in self.suites:
            self.suites.append(suite)
            self.emit("suite.start", id=suite, name=suite, file=type(test).__module__)
        self.current = {"test": test, "suite": suite, "started": time.monotonic(), "status": None, "error": None}
        extra = {k: v for k, v in (("spec", self.spec), ("worker", self.worker)) if v}
        self.emit("test.start", id=test.id(), name=test._testMethodName, suite=suite, attempt=self.attempt, **extra)

    def _outcome(self, test, status, err=None):
        error = None
        if err is not None:
            exc_type, value, _ = err
            text = self._exc_info_to_string(err, test)
            first = (str(value).splitlines() or [exc_type.__name__])[0]
            error = {"message": first[:4000], "stack": text[-8000:], "type": exc_type.__name__}
        if self.current is None or self.current["test"] is not test:
            # setUpClass/setUpModule failures arrive without a startTest.
            self.emit("test.start", id=str(test), name=str(test), attempt=self.attempt)
            self.emit("test.end", id=str(test), status=status, attempt=self.attempt, **({"error": error} if error else {}))
            self.final_failures += status == "failed"
            self.stream.write(f"✖ {test}\n    {error['message'] if error else ''}\n")
            return
        if self.current["status"] in (None, "passed") or status == "failed":
            self.current["status"], self.current["error"] = status, error or self.current["error"]

    def addSuccess(self, test):
        super().addSuccess(test)
        self._outcome(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._outcome(test, "failed", err)

    def addError(self, test, err):
        super().addError(test, err)
        self._outcome(test, "failed", err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._outcome(test, "skipped")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._outcome(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._outcome(test, "failed", (AssertionError, AssertionError("unexpected success"), None))

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._outcome(test, "failed", err)

    def stopTest(self, test):
        super().stopTest(test)
        cur, self.current = self.current, None
        if cur is None:
            return
        status = cur["status"] or "passed"
        ms = round((time.monotonic() - cur["started"]) * 1000)
        end = {"id": test.id(), "status": status, "attempt": self.attempt, "duration_ms": ms}
        if cur["error"] and status == "failed":
            end["error"] = cur["error"]
        self.emit("test.end", **end)
        self.final_failures += status == "failed"
        mark = {"passed": "✔", "skipped": "-"}.get(status, "✖")
        self.stream.write(f"{mark} {test.id()} ({ms} ms)\n")
        if status == "failed" and cur["error"]:
            self.stream.write(f"    {cur['error']['message']}\n")
        self.stream.flush()

    def stopTestRun(self):
        for suite in self.suites:
            self.emit("suite.end", id=suite)
        if not self.spec:
            self.emit("run.end", status="failed" if self.final_failures else "passed")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run unittest tests, streaming events to baton serve.")
    parser.add_argument("--server", default=os.environ.get("BATON_SERVER"), help="ws://HOST:PORT of baton serve")
    parser.add_argument("--run", default=os.environ.get("BATON_RUN"), help="run id (default python-<epoch ms>)")
    parser.add_argument("--token", default=os.environ.get("BATON_TOKEN"))
    parser.add_argument("--client", default=os.environ.get("BATON_CLIENT"))
    parser.add_argument("--reconnect-timeout", type=float, default=60.0, help="seconds to keep reconnecting")
    parser.add_argument("-s", "--start-directory", default=None, help="discover tests here")
    parser.add_argument("-p", "--pattern", default="test*.py")
    parser.add_argument("-t", "--top-level-directory", default=None)
    parser.add_argument("names", nargs="*", help="test files, or modules, classes or methods (instead of discovery)")
    args = parser.parse_args(argv)
    if not args.server:
        parser.error("--server (or BATON_SERVER) is required")
    run = args.run or f"python-{int(time.time() * 1000)}"
    client = args.client or f"unittest-{socket.gethostname()}-{os.getpid()}-{int(time.time() * 1000)}"

    loader = unittest.TestLoader()
    if args.names:
        # A name may be a test file (what `baton worker --specs-glob` hands out)
        # or a dotted module, class or method name.
        sys.path.insert(0, os.getcwd())
        tests = unittest.TestSuite()
        for name in args.names:
            if name.endswith(".py") and os.path.isfile(name):
                folder = os.path.dirname(os.path.abspath(name))
                tests.addTests(loader.discover(folder, os.path.basename(name), folder))
            else:
                tests.addTests(loader.loadTestsFromName(name))
    else:
        tests = loader.discover(args.start_directory or ".", args.pattern, args.top_level_directory)

    channel = Channel(args.server, client, args.token, reconnect_timeout=args.reconnect_timeout)
    result = BatonResult(channel, run, sys.stdout)
    try:
        result.startTestRun()
        try:
            tests.run(result)
        finally:
            result.stopTestRun()
        summary = channel.send({"type": "query", "op": "run", "run": run}, sequenced=False)
        channel.drain()
    except GaveUp as err:
        print(f"unittest_ws: {err}", file=sys.stderr)
        return 3
    channel.close()
    answer = (summary[2] or {}).get("result") or {}
    counts = answer.get("counts", {})
    print(f"baton run {run}: {answer.get('status', 'unknown')} ({counts.get('tests')} tests: "
          f"{counts.get('passed')} passed, {counts.get('failed')} failed, {counts.get('flaky')} flaky, "
          f"{counts.get('skipped')} skipped); {channel.seq} messages, {channel.duplicates} duplicates, "
          f"{channel.reconnects} reconnects")
    if channel.refusals:
        print(f"unittest_ws: baton refused {len(channel.refusals)} message(s):", file=sys.stderr)
        for line in channel.refusals[:10]:
            print(f"  {line}", file=sys.stderr)
        return 3
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
