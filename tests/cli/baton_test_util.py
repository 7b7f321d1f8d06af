"""Helpers for the end-to-end tests of the `baton` tool: a minimal RFC 6455
WebSocket client (the standard library has none), a server fixture, and small
assertions. Standard library only."""
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GEN_EVENTS = os.path.join(HERE, "..", "..", "tools", "gen_events.py")


class HandshakeRefused(Exception):
    def __init__(self, status, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class Closed(Exception):
    def __init__(self, code, reason=""):
        super().__init__(f"closed with {code} {reason}")
        self.code = code
        self.reason = reason


class WebSocket:
    """One client connection: text messages in, text messages out."""

    def __init__(self, port, path="/", headers=None, host="127.0.0.1", timeout=15):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.pings = 0
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise HandshakeRefused(0, "connection closed during the handshake")
            head += chunk
        head, self.pending = head.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        hdrs = {h.split(":", 1)[0].strip().lower(): h.split(":", 1)[1].strip() for h in header_lines}
        if status != 101:
            length = int(hdrs.get("content-length", "0"))
            body = self.pending
            while len(body) < length:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                body += chunk
            self.sock.close()
            raise HandshakeRefused(status, body.decode(errors="replace"))
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert hdrs.get("sec-websocket-accept") == accept, "bad Sec-WebSocket-Accept"

    def _read_exact(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed(1006, "connection dropped")
            self.pending += chunk
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
            _mask_fast(payload, mask)
        self.sock.sendall(head + mask + masked)

    def send(self, text):
        if not isinstance(text, (bytes, bytearray)):
            text = text if isinstance(text, str) else json.dumps(text)
            text = text.encode()
        self.send_frame(0x1, text)

    def recv(self, deadline=None):
        """The next text message; answers pings; raises Closed on a close frame.
        With a deadline (time.time() value), raises TimeoutError once it passes."""
        message = b""
        while True:
            if deadline is not None:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no message before the deadline")
                self.sock.settimeout(left)
            b0, b1 = self._read_exact(2)
            opcode, fin = b0 & 0x0F, b0 & 0x80
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read_exact(8))[0]
            payload = self._read_exact(n)
            if opcode == 0x9:
                self.pings += 1
                self.send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                try:
                    self.send_frame(0x8, payload[:2])
                except OSError:
                    pass
                raise Closed(code, payload[2:].decode(errors="replace"))
            message += payload
            if fin:
                return message.decode()

    def request(self, obj):
        self.send(obj)
        return json.loads(self.recv())

    def close(self, code=1000):
        try:
            self.send_frame(0x8, struct.pack("!H", code))
            self.sock.settimeout(2)
            while True:
                self.recv()
        except (Closed, OSError):
            pass
        finally:
            self.sock.close()

    def drop(self):
        """Vanish without a close frame, like a crashed CI machine."""
        self.sock.close()


def _mask_fast(payload, mask):
    n = len(payload)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class Server:
    """`baton serve` on a free port, stopped with SIGTERM. With db None, the
    database comes from `extra` (e.g. "--dsn", DSN)."""

    def __init__(self, baton, db, *extra, port=0):
        where = ["--db", db] if db is not None else []
        self.proc = subprocess.Popen([baton, "serve", *where, "--port", str(port), *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise AssertionError(f"serve did not start: {line!r} {self.proc.stderr.read()}")
        self.port = int(line.strip().rsplit(":", 1)[1])

    def url(self):
        return f"ws://127.0.0.1:{self.port}"

    def connect(self, **kw):
        return WebSocket(self.port, **kw)

    def http_get(self, path, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"serve did not stop on SIGTERM: {err}")
        return self.proc.returncode, err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def run(baton, *args, input=None, check_code=None, timeout=120):
    p = subprocess.run([baton, *args], input=input, capture_output=True, text=True, timeout=timeout)
    if check_code is not None and p.returncode != check_code:
        raise AssertionError(f"baton {' '.join(args)} exited {p.returncode}, expected {check_code}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def gen_events(path, expect_path, **kw):
    args = [sys.executable, GEN_EVENTS, "--expect", expect_path]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    with open(path, "w") as out:
        subprocess.run(args, stdout=out, check=True)
    with open(expect_path) as f:
        return json.load(f)


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="baton-cli-test-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def main(tests):
    """Runs each test(baton) in order; prints one line per test; exit 1 on failure."""
    if len(sys.argv) < 2:
        sys.exit("usage: test_x.py PATH/TO/baton")
    baton = sys.argv[1]
    failed = 0
    for test in tests:
        started = time.time()
        try:
            test(baton)
            print(f"ok   {test.__name__} ({time.time() - started:.1f}s)", flush=True)
        except Exception as e:  # report every failure, keep going
            failed += 1
            import traceback
            traceback.print_exc()
            print(f"FAIL {test.__name__}: {e}", flush=True)
    sys.exit(1 if failed else 0)
