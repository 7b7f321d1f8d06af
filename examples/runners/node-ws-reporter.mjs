// A node:test reporter that streams the run to `baton serve` over a WebSocket.
//
//   BATON_SERVER=ws://127.0.0.1:8787 BATON_RUN=nightly-7 \
//     node --test --test-reporter=./examples/runners/node-ws-reporter.mjs
//
// Every message carries this reporter's client name and an increasing seq.
// Messages are sent as soon as they exist and kept until baton answers; when
// the connection drops, the reporter reconnects and sends every unanswered
// message again, in order, with its original seq: baton applies each one once
// and answers the ones it already had with "dup":true.
//
// Environment:
//   BATON_SERVER        ws://HOST:PORT of `baton serve` (required)
//   BATON_RUN           run id (default node-<epoch ms>)
//   BATON_TOKEN         access token, sent in a hello message
//   BATON_CLIENT        client name (default node-test-<pid>-<epoch ms>)
//   BATON_RECONNECT_MS  give up reconnecting after this long (default 60000)
// Under `baton worker` (BATON_SPEC set) the worker owns the run: the reporter
// sends no run.start/run.end and tags each test with the spec, attempt and worker.
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

// Node 20 has no WebSocket client of its own; later versions do.
function webSocketClass() {
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  const require = createRequire(new URL('../node_ws_server/package.json', import.meta.url));
  try {
    return require('ws');
  } catch {
    throw new Error('node-ws-reporter: this Node has no WebSocket; run `npm ci` in examples/node_ws_server for the ws package');
  }
}

class Channel {
  constructor(url, client, token, reconnectMs) {
    this.WebSocket = webSocketClass();
    this.url = `${url.replace(/\/$/, '')}/?client=${encodeURIComponent(client)}`;
    this.client = client;
    this.token = token;
    this.reconnectMs = reconnectMs;
    this.seq = 0;
    this.unanswered = []; // {text, message} in send order; replies come back in the same order
    this.expectHello = false;
    this.retrying = 0; // rate-limited messages waiting to be sent again
    this.refusals = [];
    this.duplicates = 0;
    this.reconnects = 0;
    this.failure = null;
    this.waiters = [];
    this.backoff = 100;
    this.downSince = Date.now();
    this.closing = false;
    this.connect();
  }

  connect() {
    const ws = new this.WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 100;
      this.downSince = null;
      if (this.token) {
        this.expectHello = true;
        ws.send(JSON.stringify({ type: 'hello', client: this.client, token: this.token }));
      }
      for (const entry of this.unanswered) ws.send(entry.text);
    };
    ws.onmessage = (ev) => this.onReply(JSON.parse(String(ev.data)));
    ws.onerror = (ev) => {
      // onclose follows and reconnects, except after a refused handshake: a bad
      // token does not get better by retrying.
      const text = String(ev?.message ?? ev?.error?.message ?? '');
      if (/\b(401|403)\b/.test(text)) {
        this.failure = new Error(`node-ws-reporter: ${this.url} refused the connection (${text}); check BATON_TOKEN`);
        this.closing = true;
        this.settle();
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closing) return this.settle();
      this.downSince ??= Date.now();
      if (Date.now() - this.downSince > this.reconnectMs) {
        this.failure = new Error(`node-ws-reporter: lost ${this.url} for over ${this.reconnectMs} ms`);
        return this.settle();
      }
      this.reconnects += 1;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 2000);
    };
  }

  send(message, { sequenced = true } = {}) {
    const full = sequenced ? { ...message, client: this.client, seq: ++this.seq } : message;
    const entry = { text: JSON.stringify(full), message: full };
    const reply = new Promise((resolve) => { entry.resolve = resolve; });
    this.unanswered.push(entry);
    if (this.ws && this.ws.readyState === 1) this.ws.send(entry.text);
    return reply;
  }

  onReply(reply) {
    if (this.expectHello) {
      this.expectHello = false;
      if (!reply.ok) {
        this.failure = new Error(`node-ws-reporter: hello refused: ${reply.error}; check BATON_TOKEN`);
        this.closing = true;
        this.settle();
      }
      return;
    }
    const entry = this.unanswered.shift();
    if (!entry) return;
    if (reply.code === 'rate_limited') {
      // Later messages may already be applied, so the same seq would read as a
      // duplicate: send it again under a new seq once the limiter allows.
      const sequenced = Boolean(entry.message.seq);
      this.retrying += 1;
      setTimeout(() => {
        this.retrying -= 1;
        this.send(entry.message, { sequenced }).then(entry.resolve);
      }, reply.retry_after_ms ?? 100);
      return;
    }
    if (reply.dup) this.duplicates += 1;
    if (!reply.ok && entry.message.seq) {
      this.refusals.push(`${entry.message.type} ${entry.message.id ?? ''}: ${reply.code}: ${reply.error}`);
    }
    entry.resolve(reply);
    this.settle();
  }

  settle() {
    const pending = this.unanswered.length + this.retrying > 0;
    if (pending && !this.failure && !(this.closing && !this.ws)) return;
    for (const wake of this.waiters.splice(0)) wake();
  }

  // Resolves once every message is answered (or the channel gave up).
  drained() {
    if (this.unanswered.length + this.retrying === 0 || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close() {
    this.closing = true;
    if (this.ws) this.ws.close(1000);
  }
}

function relativeFile(file) {
  const rel = file ? path.relative(process.cwd(), file) : '(no file)';
  return rel.startsWith('..') ? file : rel.split(path.sep).join('/');
}

function statusOf(type, data) {
  if ((data.skip ?? false) !== false || (data.todo ?? false) !== false) return 'skipped';
  if (type === 'test:pass') return 'passed';
  return data.details?.error?.failureType === 'testTimeoutFailure' ? 'timedout' : 'failed';
}

// node:test wraps what a test threw; its cause is the assertion error itself.
function errorOf(data) {
  const err = data.details?.error;
  if (!err) return undefined;
  const origin = err.cause ?? err;
  const message = String(origin?.message ?? origin ?? 'failed');
  const out = { message: message.slice(0, 4000) };
  if (typeof origin?.stack === 'string') out.stack = origin.stack.slice(0, 8000);
  if (origin?.name) out.type = String(origin.name);
  return out;
}

export default async function* batonWsReporter(source) {
  const server = process.env.BATON_SERVER;
  if (!server) throw new Error('node-ws-reporter: set BATON_SERVER=ws://HOST:PORT of `baton serve`');
  const run = process.env.BATON_RUN || `node-${Date.now()}`;
  const spec = process.env.BATON_SPEC;
  const attempt = Number(process.env.BATON_ATTEMPT || 1);
  const worker = process.env.BATON_WORKER;
  const client = process.env.BATON_CLIENT || `node-test-${os.hostname()}-${process.pid}-${Date.now()}`;
  const channel = new Channel(server, client, process.env.BATON_TOKEN, Number(process.env.BATON_RECONNECT_MS || 60000));
  const ownsRun = !spec;
  if (ownsRun) channel.send({ type: 'run.start', run, name: 'node --test', platform: `${process.platform} node ${process.version}` });

  const files = new Map(); // absolute file -> { rel, names: [] } (names: the describe path by nesting)
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const fileOf = (file) => {
    let f = files.get(file);
    if (!f) {
      f = { rel: relativeFile(file), names: [] };
      files.set(file, f);
      channel.send({ type: 'suite.start', run, id: f.rel, name: f.rel, file: f.rel });
    }
    return f;
  };
  const record = (f, name, status, data, error) => {
    const id = `${f.rel} > ${name}`;
    const duration = Math.max(0, Math.round(data.details?.duration_ms ?? 0));
    const common = { run, id, attempt };
    const where = { ...(spec ? { spec } : {}), ...(worker ? { worker } : {}) };
    channel.send({ type: 'test.start', ...common, name, suite: f.rel, file: f.rel, ...where, ts: Date.now() - duration });
    channel.send({ type: 'test.end', ...common, status, duration_ms: duration, ...(error && status !== 'skipped' ? { error } : {}) });
    counts[status === 'timedout' ? 'failed' : status] += 1;
    return `${{ passed: '✔', skipped: '-' }[status] ?? '✖'} ${id} (${duration} ms)${error && status !== 'passed' && status !== 'skipped' ? `\n    ${error.message.split('\n')[0]}` : ''}\n`;
  };

  try {
    for await (const { type, data } of source) {
      if (type !== 'test:start' && type !== 'test:pass' && type !== 'test:fail') continue;
      const wholeFile = data.nesting === 0 && data.name === data.file;
      if (!data.file || (wholeFile && type === 'test:start')) continue;
      const f = fileOf(data.file);
      if (type === 'test:start') {
        f.names.length = data.nesting;
        f.names.push(data.name);
      } else if (wholeFile) {
        // With process isolation a file that fails on its own (it does not load,
        // or exits non-zero outside any test) is reported against the file.
        if (type === 'test:fail' && data.details?.error?.failureType !== 'subtestsFailed') {
          const raw = data.details?.error ?? {};
          const how = raw.signal ? `was killed by ${raw.signal}` : `exited with code ${raw.exitCode ?? '?'}`;
          yield record(f, '(whole file)', 'failed', data, { ...errorOf(data), message: `the test file ${how} outside any test` });
        }
      } else if (data.details?.type !== 'suite') {
        const name = [...f.names.slice(0, data.nesting), data.name].join(' > ');
        yield record(f, name, statusOf(type, data), data, errorOf(data));
      }
    }
    for (const f of files.values()) channel.send({ type: 'suite.end', run, id: f.rel });
    if (ownsRun) channel.send({ type: 'run.end', run, status: counts.failed > 0 ? 'failed' : 'passed' });
    const answer = channel.send({ type: 'query', op: 'run', run }, { sequenced: false });
    await channel.drained();
    if (channel.failure) throw channel.failure;
    const summary = await answer;
    const c = summary.result?.counts;
    yield `baton run ${run}: ${summary.result?.status ?? 'unknown'}` +
      (c ? ` (${c.tests} tests: ${c.passed} passed, ${c.failed} failed, ${c.flaky} flaky, ${c.skipped} skipped)` : '') +
      `; ${channel.seq} messages, ${channel.duplicates} duplicates, ${channel.reconnects} reconnects\n`;
    if (channel.refusals.length > 0) {
      throw new Error(`node-ws-reporter: baton refused ${channel.refusals.length} message(s):\n  ${channel.refusals.slice(0, 10).join('\n  ')}`);
    }
  } finally {
    channel.close();
  }
}
