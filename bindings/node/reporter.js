'use strict';
// A node:test reporter that records the run into baton and writes its JUnit.
//
//   node --test --test-reporter=baton/reporter            (package installed or linked)
//   node --test --test-reporter=./bindings/node/reporter.js
//
// Combine with another reporter for richer console output, e.g.
//   --test-reporter=baton/reporter --test-reporter-destination=stdout
//   --test-reporter=spec --test-reporter-destination=stderr
//
// Environment:
//   BATON_RUN       run id (default node-<epoch ms>-<pid>)
//   BATON_RUN_NAME  run name (default "node --test")
//   BATON_BUILD_ID  CI build id, passed as run.start's `build`
//   BATON_DB        engine store path (default ":memory:"); BATON_OPTIONS overrides
//   BATON_OPTIONS   the engine's options as JSON
//   BATON_CLIENT    the client name of the session (default "node-test")
//   BATON_TOKEN     the session's token, when the engine is configured with access
//   BATON_JUNIT     where the JUnit XML goes (default reports/junit-node.xml)
//   BATON_LIBRARY   the libbaton to load (see index.js)

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Engine } = require('./index');

const MAX_TEXT = 16 * 1024;

function wellFormed(text) {
  const s = String(text);
  const clipped = s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}\n... (${s.length - MAX_TEXT} more characters)` : s;
  return typeof clipped.toWellFormed === 'function' ? clipped.toWellFormed() : clipped;
}

function relativeFile(file) {
  if (!file) return '(no file)';
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel.split(path.sep).join('/') : file;
}

function formatDuration(ms) {
  if (typeof ms !== 'number') return '';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)}s` : `${ms.toFixed(3).replace(/\.?0+$/, '')}ms`;
}

// node:test wraps the thrown value: details.error is an ERR_TEST_FAILURE whose
// `cause` is what the test threw (hook and timeout failures have no cause).
function describeError(error) {
  if (!error) return null;
  const cause = error.cause;
  const origin = cause !== undefined && cause !== null ? cause : error;
  let message;
  let stack;
  let type;
  if (origin instanceof Error || (typeof origin === 'object' && typeof origin.message === 'string')) {
    message = origin.message;
    stack = typeof origin.stack === 'string' ? origin.stack : undefined;
    type = origin.name || origin.constructor?.name;
    if (origin !== error && error.failureType === 'hookFailed') message = `${error.message}: ${message}`;
  } else {
    message = String(origin);
  }
  const out = { message: wellFormed(message || error.message || 'failed') };
  if (stack) out.stack = wellFormed(stack);
  if (type) out.type = wellFormed(type);
  return out;
}

function testStatus(event, data) {
  if (data.skip !== undefined && data.skip !== false) return 'skipped';
  if (data.todo !== undefined && data.todo !== false) return 'skipped';
  if (event === 'test:pass') return 'passed';
  const failureType = data.details?.error?.failureType;
  if (failureType === 'testTimeoutFailure') return 'timedout';
  if (failureType === 'cancelledByParent') return 'interrupted';
  return 'failed';
}

function locationKey(data) {
  return `${data.file}:${data.line}:${data.column}:${data.nesting}`;
}

const MARKS = { passed: '✔', failed: '✖', timedout: '✖', interrupted: '✖', skipped: '﹣' };

class Recorder {
  constructor() {
    this.run = process.env.BATON_RUN || `node-${Date.now()}-${process.pid}`;
    const options = process.env.BATON_OPTIONS
      ? JSON.parse(process.env.BATON_OPTIONS)
      : { path: process.env.BATON_DB || ':memory:' };
    // Registered before the engine exists, so it runs before the binding's own
    // exit hook closes the engine: a run cut short (Ctrl-C, a CI timeout) is
    // still ended, as interrupted, and its partial JUnit written.
    this.finished = false;
    this.onExit = () => this.interrupt();
    process.on('exit', this.onExit);
    this.engine = new Engine(options);
    this.client = process.env.BATON_CLIENT || 'node-test';
    const credentials = { client: this.client };
    if (process.env.BATON_TOKEN) credentials.token = process.env.BATON_TOKEN;
    this.session = this.engine.session(credentials);
    this.refusals = [];
    this.files = new Map(); // file -> { suiteId, stack: [frame] }
    this.fileOutput = new Map(); // file -> tail of its stdout/stderr
    this.testAt = new Map(); // file:line:column:nesting -> id of the test recorded there
    this.ids = new Set();
    this.counts = { passed: 0, failed: 0, skipped: 0, todo: 0, timedout: 0, interrupted: 0 };
    const start = { type: 'run.start', run: this.run, name: process.env.BATON_RUN_NAME || 'node --test', ts: Date.now() };
    if (process.env.BATON_BUILD_ID) start.build = process.env.BATON_BUILD_ID;
    start.platform = `${process.platform}-${process.arch} node ${process.version}`;
    this.runStarted = this.send(start);
  }

  send(message) {
    const { status, reply, detail } = this.session.pushRaw({ client: this.client, ...message });
    if (status !== 0) {
      this.refusals.push(`${message.type} ${message.id ?? ''}: ${(reply && reply.error) || detail || status}`);
    }
    return status === 0;
  }

  refusalError() {
    return new Error(`baton reporter: baton refused ${this.refusals.length} event(s):\n  ${this.refusals.slice(0, 10).join('\n  ')}`);
  }

  uniqueId(full) {
    // Ids are bounded (128 bytes by default); a long path keeps its readable
    // head and gains a digest of the whole, so it stays unique and stable.
    let base = full;
    if (Buffer.byteLength(base) > 100) {
      const digest = crypto.createHash('sha256').update(full).digest('hex').slice(0, 16);
      let head = base.slice(0, 80);
      while (Buffer.byteLength(head) > 80) head = head.slice(0, -1);
      base = `${head}~${digest}`;
    }
    let id = base;
    for (let n = 2; this.ids.has(id); n++) id = `${base} #${n}`;
    this.ids.add(id);
    return id;
  }

  fileState(file) {
    let fs_ = this.files.get(file);
    if (!fs_) {
      const rel = relativeFile(file);
      fs_ = { rel, suiteId: this.uniqueId(rel), stack: [] };
      this.files.set(file, fs_);
      this.send({ type: 'suite.start', run: this.run, id: fs_.suiteId, name: rel, file: rel, ts: Date.now() });
    }
    return fs_;
  }

  // The suite a frame's children belong to: the nearest container, else the file.
  parentSuite(fstate) {
    for (let i = fstate.stack.length - 1; i >= 0; i--) {
      if (fstate.stack[i].suiteId) return fstate.stack[i].suiteId;
    }
    return fstate.suiteId;
  }

  // test:start. Returns the output lines it produces (container headers).
  start(data) {
    const fstate = this.fileState(data.file);
    const lines = [];
    // The test node:test makes for a whole file is never a parent of its tests.
    if (data.nesting === 0 && data.file && data.name === data.file) return lines;
    const parent = fstate.stack[fstate.stack.length - 1];
    if (parent && !parent.suiteId) this.openContainer(fstate, fstate.stack.length - 1, lines);
    fstate.stack.push({ name: data.name, nesting: data.nesting, suiteId: null, startedAt: Date.now() });
    return lines;
  }

  // A frame turns out to have children: it becomes a suite.
  openContainer(fstate, index, lines) {
    const frame = fstate.stack[index];
    const parentSuite = (() => {
      for (let i = index - 1; i >= 0; i--) if (fstate.stack[i].suiteId) return fstate.stack[i].suiteId;
      return fstate.suiteId;
    })();
    const names = fstate.stack.slice(0, index + 1).map((f) => f.name);
    frame.suiteId = this.uniqueId(`${fstate.rel} > ${names.join(' > ')}`);
    this.send({ type: 'suite.start', run: this.run, id: frame.suiteId, name: frame.name, parent: parentSuite, file: fstate.rel, ts: frame.startedAt });
    lines.push(`${'  '.repeat(frame.nesting)}▶ ${frame.name}\n`);
  }

  // test:pass / test:fail. Returns the output lines.
  end(event, data) {
    const fstate = this.fileState(data.file);
    let frame = fstate.stack.pop();
    if (!frame || frame.name !== data.name || frame.nesting !== data.nesting) {
      // No matching test:start (it can happen for tests that never started): record it alone.
      if (frame) fstate.stack.push(frame);
      frame = { name: data.name, nesting: data.nesting, suiteId: null, startedAt: Date.now() };
    }
    const indent = '  '.repeat(data.nesting);
    const lines = [];
    const duration = data.details?.duration_ms;
    const error = describeError(data.details?.error);
    const isSuite = data.details?.type === 'suite' || frame.suiteId !== null;
    if (isSuite) {
      if (!frame.suiteId) {
        fstate.stack.push(frame);
        this.openContainer(fstate, fstate.stack.length - 1, lines);
        fstate.stack.pop();
      }
      // A container that failed on its own (a hook, code around its subtests)
      // is recorded as a test of its own, so the failure is not lost.
      const failureType = data.details?.error?.failureType;
      if (event === 'test:fail' && failureType !== 'subtestsFailed') {
        this.recordTest(fstate, frame, `${frame.name} (${failureType === 'hookFailed' ? 'hook' : 'own code'})`, frame.suiteId, 'failed', data, error);
        lines.push(`${indent}✖ ${frame.name} ${formatDuration(duration) ? `(${formatDuration(duration)})` : ''}\n`);
        lines.push(...this.errorLines(error, indent));
      }
      this.send({ type: 'suite.end', run: this.run, id: frame.suiteId, ts: Date.now() });
      return lines;
    }
    const status = testStatus(event, data);
    // With process isolation, a file that fails as a whole (it does not load, or
    // exits non-zero) is reported as a test named after its absolute path.
    if (data.nesting === 0 && data.file && data.name === data.file) {
      if (event === 'test:pass') return lines;
      const output = this.fileOutput.get(data.file) ?? '';
      const lastLine = output.split('\n').map((l) => l.trim()).filter(Boolean).findLast((l) => /^\w*Error\b|^Error:/.test(l));
      const raw = data.details?.error ?? {};
      const how = raw.signal ? `was killed by ${raw.signal}` : typeof raw.exitCode === 'number' && raw.exitCode !== 0 ? `exited with code ${raw.exitCode}` : 'failed';
      const fileError = { message: wellFormed(`the test file ${how}${lastLine ? `: ${lastLine}` : ''}`) };
      this.recordTest(fstate, frame, '(whole file)', fstate.suiteId, 'failed', data, fileError, output);
      lines.push(`✖ ${fstate.rel} (whole file)\n`, `  ${fileError.message}\n`);
      return lines;
    }
    this.recordTest(fstate, frame, frame.name, this.parentSuite(fstate), status, data, error);
    const todo = data.todo !== undefined && data.todo !== false;
    const note = todo ? ' # TODO' : status === 'skipped' ? ' # SKIP' : '';
    const mark = todo ? '#' : MARKS[status];
    lines.push(`${indent}${mark} ${frame.name} (${formatDuration(duration) || '0ms'})${note}\n`);
    if (status !== 'passed' && status !== 'skipped') lines.push(...this.errorLines(error, indent));
    return lines;
  }

  // t.diagnostic() lines arrive after their test ended, with its location: they
  // become test.log events of that test.
  diagnostic(data) {
    if (!data.file || data.line === undefined) return;
    const id = this.testAt.get(locationKey(data));
    if (id) this.send({ type: 'test.log', run: this.run, id, message: wellFormed(data.message), level: 'info', ts: Date.now() });
  }

  // Output of a test file (process isolation attributes it to files, not tests);
  // the tail is kept for files that fail as a whole.
  output(file, message) {
    if (!file) return;
    const text = (this.fileOutput.get(file) ?? '') + message;
    this.fileOutput.set(file, text.length > MAX_TEXT ? text.slice(text.length - MAX_TEXT) : text);
  }

  recordTest(fstate, frame, name, suiteId, status, data, error, stderr) {
    const names = fstate.stack.map((f) => f.name).concat(name);
    const id = this.uniqueId(`${fstate.rel} > ${names.join(' > ')}`);
    const duration = typeof data.details?.duration_ms === 'number' ? Math.max(0, Math.round(data.details.duration_ms)) : undefined;
    const now = Date.now();
    if (data.file && data.line !== undefined) this.testAt.set(locationKey(data), id);
    const start = { type: 'test.start', run: this.run, id, name, suite: suiteId, file: fstate.rel, ts: duration !== undefined ? now - duration : frame.startedAt };
    this.send(start);
    const end = { type: 'test.end', run: this.run, id, status, ts: now };
    if (duration !== undefined) end.duration_ms = duration;
    if (error && status !== 'passed' && !(status === 'skipped' && !data.todo)) end.error = error;
    if (stderr) end.stderr = wellFormed(stderr);
    const meta = {};
    if (data.line !== undefined) meta.line = data.line;
    if (data.column !== undefined) meta.column = data.column;
    if (typeof data.skip === 'string') meta.skip = wellFormed(data.skip);
    if (data.todo !== undefined && data.todo !== false) meta.todo = typeof data.todo === 'string' ? wellFormed(data.todo) : true;
    if (Object.keys(meta).length > 0) end.meta = meta;
    this.send(end);
    if (meta.todo) this.counts.todo++;
    else this.counts[status]++;
  }

  errorLines(error, indent) {
    if (!error) return [];
    const pad = `${indent}  `;
    const body = error.stack && error.stack.includes(error.message) ? error.stack : `${error.message}${error.stack ? `\n${error.stack}` : ''}`;
    return body
      .split('\n')
      .filter((l) => !/^\s+at .*\(node:/.test(l) && !/^\s+at node:/.test(l))
      .slice(0, 12)
      .map((l) => `${pad}${l}\n`);
  }

  // Ends the run, prints its summary, writes the JUnit. A generator, so the
  // summary is shown even when the JUnit export then fails.
  *finish() {
    this.finished = true;
    if (!this.runStarted) throw this.refusalError();
    for (const fstate of this.files.values()) {
      for (let i = fstate.stack.length - 1; i >= 0; i--) {
        if (fstate.stack[i].suiteId) this.send({ type: 'suite.end', run: this.run, id: fstate.stack[i].suiteId, ts: Date.now() });
      }
      this.send({ type: 'suite.end', run: this.run, id: fstate.suiteId, ts: Date.now() });
    }
    const failed = this.counts.failed + this.counts.timedout + this.counts.interrupted > 0;
    this.send({ type: 'run.end', run: this.run, status: failed ? 'failed' : 'passed', ts: Date.now() });
    this.engine.flush();
    const summary = this.engine.query({ op: 'run', run: this.run });
    const c = summary.counts ?? {};
    yield `ℹ baton run ${this.run}: ${summary.status} (tests ${c.tests}, passed ${c.passed}, failed ${c.failed}, ` +
      `skipped ${c.skipped}, timedout ${c.timedout}, interrupted ${c.interrupted}, flaky ${c.flaky})\n`;
    let junit;
    try {
      junit = this.engine.export(this.run, 'junit');
    } catch (err) {
      throw new Error(
        `baton reporter: the loaded libbaton cannot export JUnit (${err.message}). ` +
          'The run was recorded, but no JUnit file was written; use a libbaton built with the JUnit exporter.',
        { cause: err },
      );
    }
    const target = this.junitPath();
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, junit);
    yield `ℹ baton JUnit written to ${relativeFile(target)}\n`;
    if (this.refusals.length > 0) throw this.refusalError();
  }

  junitPath() {
    return path.resolve(process.env.BATON_JUNIT || path.join('reports', 'junit-node.xml'));
  }

  // The process is exiting before the event stream ended.
  interrupt() {
    if (this.finished || !this.runStarted || this.engine.closed) return;
    this.finished = true;
    const say = (line) => fs.writeSync(process.stderr.fd, line);
    try {
      this.send({ type: 'run.end', run: this.run, status: 'interrupted', ts: Date.now() });
      this.engine.flush();
      say(`ℹ baton run ${this.run}: interrupted before the test run ended\n`);
      const junit = this.engine.export(this.run, 'junit');
      const target = this.junitPath();
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, junit);
      say(`ℹ baton JUnit (partial) written to ${relativeFile(target)}\n`);
    } catch (err) {
      say(`baton reporter: while exiting: ${err.message}\n`);
    }
  }

  close() {
    process.removeListener('exit', this.onExit);
    this.engine.close();
  }
}

/**
 * The reporter: consumes node:test's event stream, records it into baton and
 * yields compact spec-like lines.
 * @param {AsyncIterable<{type: string, data: any}>} source
 */
async function* batonReporter(source) {
  const recorder = new Recorder();
  try {
    for await (const { type, data } of source) {
      switch (type) {
        case 'test:start':
          yield* recorder.start(data);
          break;
        case 'test:pass':
        case 'test:fail':
          yield* recorder.end(type, data);
          break;
        case 'test:diagnostic':
          recorder.diagnostic(data);
          yield `${'  '.repeat(data.nesting ?? 0)}ℹ ${data.message}\n`;
          break;
        case 'test:stdout':
        case 'test:stderr':
          recorder.output(data.file, data.message);
          yield data.message;
          break;
        default:
          break;
      }
    }
    yield* recorder.finish();
  } finally {
    recorder.close();
  }
}

module.exports = batonReporter;
module.exports.Recorder = Recorder;
