'use strict';
// Engine and Session: pushes, replies, refusals as errors with codes, queries,
// exports, the clock, access, closing.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { baton, openEngine, tempDir, sha256, msg, recordRun } = require('./helpers');

const { Engine, BatonError } = baton;

test('an engine opens with defaults and a push returns {ok, seq}', (t) => {
  const engine = openEngine(t);
  const session = engine.session({ client: 'ci-1' });
  const first = session.push(msg.runStart('r1'));
  assert.equal(first.ok, true);
  assert.equal(typeof first.seq, 'number');
  const second = session.push(msg.testStart('r1', 't1'));
  assert.equal(second.ok, true);
  assert.ok(second.seq > first.seq);
});

test('push accepts an object, a JSON string and a Buffer', (t) => {
  const engine = openEngine(t);
  const session = engine.session(null);
  assert.equal(session.push(msg.runStart('r1')).ok, true);
  assert.equal(session.push(JSON.stringify(msg.testStart('r1', 'a'))).ok, true);
  assert.equal(session.push(Buffer.from(JSON.stringify(msg.testStart('r1', 'b')))).ok, true);
  assert.equal(session.push(new Uint8Array(Buffer.from(JSON.stringify(msg.testStart('r1', 'c'))))).ok, true);
  const tests = engine.query({ op: 'tests', run: 'r1' });
  assert.equal(JSON.stringify(tests).includes('"c"'), true);
});

test('non-ASCII text crosses the boundary intact', (t) => {
  const engine = openEngine(t);
  const session = engine.session();
  session.push(msg.runStart('r-ü'));
  session.push(msg.testStart('r-ü', 'tést ✓ 日本'));
  session.push(msg.testEnd('r-ü', 'tést ✓ 日本', 'failed', { error: { message: 'ça a échoué — 💥' } }));
  const exported = engine.export('r-ü', 'json');
  assert.ok(exported.includes('tést ✓ 日本'));
  assert.ok(exported.includes('💥'));
});

test('refusals throw BatonError subclasses with code, status and reply', async (t) => {
  const engine = openEngine(t);
  const session = engine.session({ client: 'ci-1' });

  await t.test('parse', () => {
    const err = catchError(() => session.push('{"type": '));
    assert.ok(err instanceof baton.ParseError, String(err));
    assert.ok(err instanceof BatonError);
    assert.equal(err.code, 'parse');
    assert.equal(err.status, baton.Status.EPARSE);
    assert.equal(err.reply.ok, false);
    assert.equal(err.reply.code, 'parse');
  });

  await t.test('invalid, naming the field', () => {
    const err = catchError(() => session.push({ type: 'run.start' }));
    assert.ok(err instanceof baton.InvalidError);
    assert.equal(err.code, 'invalid');
    assert.equal(err.status, -3);
    assert.match(err.reply.error, /run/);
    assert.match(err.message, /run/);
  });

  await t.test('invalid: unknown type', () => {
    const err = catchError(() => session.push({ type: 'no.such.type', run: 'r' }));
    assert.equal(err.code, 'invalid');
  });

  await t.test('conflict: a test of an unknown run', () => {
    const err = catchError(() => session.push(msg.testStart('never-started', 't')));
    assert.ok(err instanceof baton.ConflictError);
    assert.equal(err.code, 'conflict');
    assert.equal(err.reply.code, 'conflict');
  });

  await t.test('denied: a client field that is not the session\'s client', () => {
    const err = catchError(() => session.push({ ...msg.runStart('r2'), client: 'someone-else' }));
    assert.ok(err instanceof baton.DeniedError);
    assert.equal(err.code, 'denied');
  });
});

test('pushRaw returns {status, code, reply} instead of throwing', (t) => {
  const engine = openEngine(t);
  const session = engine.session();
  const ok = session.pushRaw(msg.runStart('r1'));
  assert.equal(ok.status, 0);
  assert.equal(ok.code, 'ok');
  assert.equal(ok.reply.ok, true);
  const bad = session.pushRaw('not json');
  assert.equal(bad.status, baton.Status.EPARSE);
  assert.equal(bad.code, 'parse');
  assert.deepEqual(Object.keys(bad.reply).sort().slice(0, 3), ['code', 'error', 'ok']);
  assert.equal(bad.reply.ok, false);
});

test('a client seq makes delivery exactly-once: the repeat is acknowledged as dup', (t) => {
  const engine = openEngine(t);
  const session = engine.session({ client: 'ci-dup' });
  const first = session.push({ ...msg.runStart('r1'), seq: 1 });
  const again = session.push({ ...msg.runStart('r1'), seq: 1 });
  assert.equal(again.ok, true);
  assert.equal(again.dup, true);
  assert.equal(first.dup ?? false, false);
});

test('rate limiting throws RateLimitedError with retryAfterMs', (t) => {
  const engine = openEngine(t, {
    clock: 'manual',
    rate_limit: { per_client: { events: 2, per_ms: 60000, burst: 2 } },
  });
  engine.clockSet(1_000_000);
  const session = engine.session({ client: 'fast' });
  session.push(msg.runStart('r1'));
  // The bucket holds about `burst` events; push until the limiter refuses.
  let err = null;
  for (let i = 0; i < 10 && !err; i++) {
    try {
      session.push(msg.testStart('r1', `a${i}`));
    } catch (e) {
      err = e;
    }
  }
  assert.ok(err instanceof baton.RateLimitedError, `got ${err}`);
  assert.equal(err.code, 'rate_limited');
  assert.equal(err.status, -5);
  assert.equal(typeof err.retryAfterMs, 'number');
  assert.ok(err.retryAfterMs > 0);
  assert.equal(err.reply.retry_after_ms, err.retryAfterMs);
  const raw = session.pushRaw(msg.testStart('r1', 'b'));
  assert.equal(raw.code, 'rate_limited');
  // Time passes on the manual clock: the bucket refills.
  engine.clockSet(1_000_000 + 120_000);
  assert.equal(session.push(msg.testStart('r1', 'b')).ok, true);
});

test('bad options throw InvalidArgumentError naming the key', () => {
  const err = catchError(() => new Engine({ bogus_option: true }));
  assert.ok(err instanceof baton.InvalidArgumentError);
  assert.equal(err.code, 'invalid_argument');
  assert.match(err.message, /bogus_option/);
  assert.throws(() => new Engine('{not json'), BatonError);
});

test('options may be given as JSON text, and null means defaults', (t) => {
  openEngine(t, '{"path":":memory:"}').session().push(msg.runStart('r'));
  openEngine(t, null).session().push(msg.runStart('r'));
});

test('queries: run, runs, tests, stats', (t) => {
  const engine = openEngine(t);
  const session = engine.session({ client: 'ci-q' });
  recordRun(session, 'r1', { a: 'passed', b: 'failed', c: 'skipped' });
  session.push(msg.runEnd('r1', 'failed'));

  const run = engine.query({ op: 'run', run: 'r1' });
  assert.equal(run.run, 'r1');
  assert.equal(run.counts.tests, 3);
  assert.equal(run.counts.passed, 1);
  assert.equal(run.counts.failed, 1);
  assert.equal(run.counts.skipped, 1);
  assert.ok(['failed', 'passed'].includes(run.status));

  const runs = engine.query({ op: 'runs' });
  assert.ok(JSON.stringify(runs).includes('r1'));

  const tests = engine.query(JSON.stringify({ op: 'tests', run: 'r1' }));
  const text = JSON.stringify(tests);
  for (const id of ['a', 'b', 'c']) assert.ok(text.includes(`"${id}"`), text);

  const stats = engine.query({ op: 'stats' });
  assert.equal(typeof stats, 'object');
});

test('a query for an unknown run or op is refused with a code', (t) => {
  const engine = openEngine(t);
  const unknownRun = catchError(() => engine.query({ op: 'run', run: 'missing' }));
  assert.ok(unknownRun instanceof BatonError);
  assert.equal(unknownRun.code, 'not_found');
  const unknownOp = catchError(() => engine.query({ op: 'no-such-op' }));
  assert.ok(unknownOp instanceof BatonError);
  assert.ok(['invalid', 'invalid_argument'].includes(unknownOp.code), unknownOp.code);
  const notJson = catchError(() => engine.query('{'));
  assert.ok(notJson instanceof BatonError);
});

test('session.query answers like engine.query', (t) => {
  const engine = openEngine(t);
  const session = engine.session({ client: 'ci-sq' });
  recordRun(session, 'r1', { a: 'passed' });
  assert.deepEqual(session.query({ op: 'run', run: 'r1' }).counts, engine.query({ op: 'run', run: 'r1' }).counts);
});

test('export json returns the run as text', (t) => {
  const engine = openEngine(t);
  const session = engine.session();
  recordRun(session, 'r1', { a: 'passed', b: 'failed' });
  const text = engine.export('r1');
  const parsed = JSON.parse(text);
  assert.equal(typeof parsed, 'object');
  assert.ok(text.includes('r1'));
  assert.equal(engine.export('r1', 'json'), text);
  const err = catchError(() => engine.export('r1', 'no-such-format'));
  assert.ok(err instanceof BatonError);
  const missing = catchError(() => engine.export('missing-run', 'json'));
  assert.ok(missing instanceof BatonError);
});

test('every export format returns text, or is refused as unknown by this library', (t) => {
  const engine = openEngine(t);
  const session = engine.session();
  recordRun(session, 'formats', { 'näme ✓': 'passed', b: 'failed' });
  for (const format of ['json', 'junit', 'ctrf']) {
    let text;
    try {
      text = engine.export('formats', format);
    } catch (err) {
      assert.ok(err instanceof baton.InvalidArgumentError, `${format}: ${err}`);
      assert.match(err.message, /unknown export format/);
      t.diagnostic(`${format}: not in the loaded library`);
      continue;
    }
    assert.ok(text.length > 0, format);
    assert.ok(text.includes('näme ✓'), `${format} keeps UTF-8 names`);
    if (format !== 'junit') JSON.parse(text);
  }
});

test('clockSet works with a manual clock and is refused with the system clock', (t) => {
  const manual = openEngine(t, { clock: 'manual' });
  manual.clockSet(1_700_000_000_000);
  manual.clockSet(1_700_000_000_000n + 5n);
  manual.clockSet(new Date(1_700_000_001_000));
  const session = manual.session();
  session.push(msg.runStart('r1'));
  const run = manual.query({ op: 'run', run: 'r1' });
  assert.equal(run.started_at, 1_700_000_001_000);

  const system = openEngine(t);
  const err = catchError(() => system.clockSet(5));
  assert.ok(err instanceof BatonError);
  assert.throws(() => manual.clockSet(1.5), TypeError);
});

test('flush succeeds, and a file store keeps the run across reopen', (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'runs.db');
  {
    const engine = new Engine({ path: file, durability: 'async' });
    const session = engine.session({ client: 'ci-file' });
    recordRun(session, 'persisted', { a: 'passed', b: 'failed' });
    engine.flush();
    engine.close();
  }
  const again = openEngine(t, { path: file });
  const run = again.query({ op: 'run', run: 'persisted' });
  assert.equal(run.counts.tests, 2);
  assert.equal(run.counts.failed, 1);
});

for (const durability of ['full', 'normal', 'async']) {
  test(`durability ${durability}: what a push acknowledged is there after close and reopen`, (t) => {
    const file = path.join(tempDir(), `${durability}.db`);
    const engine = new Engine({ path: file, durability });
    const session = engine.session({ client: `ci-${durability}` });
    recordRun(session, 'r', { a: 'passed', b: 'failed', c: 'passed' });
    session.push(msg.runEnd('r', 'failed'));
    engine.close();
    const again = openEngine(t, { path: file });
    const run = again.query({ op: 'run', run: 'r' });
    assert.equal(run.status, 'failed');
    assert.equal(run.counts.tests, 3);
    assert.equal([...again.replay({ run: 'r' })].length, 8);
  });
}

test('a bad durability is refused', () => {
  assert.equal(catchError(() => new Engine({ durability: 'sometimes' })).code, 'invalid_argument');
});

test('access: tokens, roles, denied sessions, accessReload', (t) => {
  const writer = 'writer-secret-token';
  const reader = 'reader-secret-token';
  const engine = openEngine(t, {
    access: {
      tokens: [
        { sha256: sha256(writer), roles: ['reporter'], clients: 'ci-*' },
        { sha256: sha256(reader), roles: ['viewer'] },
      ],
    },
  });

  // A wrong token (or none) is denied when the session opens or at the first push.
  const wrong = catchError(() => {
    const s = engine.session({ client: 'ci-1', token: 'wrong' });
    s.push(msg.runStart('r1'));
  });
  assert.ok(wrong instanceof baton.DeniedError, `got ${wrong}`);
  assert.equal(wrong.code, 'denied');
  assert.ok(!wrong.message.includes('wrong'), 'the token is never echoed');

  const ci = engine.session({ client: 'ci-1', token: writer });
  assert.equal(ci.push(msg.runStart('r1')).ok, true);

  // The viewer may query but not report.
  const viewer = engine.session({ client: 'dash', token: reader });
  assert.equal(viewer.query({ op: 'run', run: 'r1' }).run, 'r1');
  const denied = catchError(() => viewer.push(msg.runStart('r2')));
  assert.equal(denied.code, 'denied');
  // The reporter has no viewer role: its session query is denied.
  assert.equal(catchError(() => ci.query({ op: 'run', run: 'r1' })).code, 'denied');

  // Revoking the writer token takes effect at once for the open session.
  engine.accessReload({ tokens: [{ sha256: sha256(reader), roles: ['viewer'] }] });
  assert.equal(catchError(() => ci.push(msg.testStart('r1', 't'))).code, 'denied');

  // null means open mode: anyone may report again.
  engine.accessReload(null);
  assert.equal(engine.session({ client: 'anyone' }).push(msg.testStart('r1', 't')).ok, true);

  const badConfig = catchError(() => engine.accessReload({ tokens: 'not-a-list' }));
  assert.ok(badConfig instanceof BatonError);
});

test('close is idempotent; closed engines and sessions throw ClosedError', (t) => {
  const engine = new Engine();
  const session = engine.session();
  session.push(msg.runStart('r1'));
  const other = engine.session();
  other.close();
  other.close();
  assert.equal(other.closed, true);
  assert.equal(catchError(() => other.push(msg.runStart('r2'))).code, 'closed');

  engine.close();
  engine.close();
  assert.equal(engine.closed, true);
  assert.equal(session.closed, true);
  for (const call of [
    () => session.push(msg.runStart('r3')),
    () => session.pushRaw(msg.runStart('r3')),
    () => session.query({ op: 'runs' }),
    () => engine.session(),
    () => engine.query({ op: 'runs' }),
    () => engine.export('r1'),
    () => engine.flush(),
    () => engine.replay(),
    () => engine.clockSet(1),
    () => engine.accessReload(null),
    () => engine.setLogger(null),
    () => engine.addPlugin('p', { observe() {} }),
  ]) {
    const err = catchError(call);
    assert.ok(err instanceof baton.ClosedError, String(err));
    assert.equal(err.code, 'closed');
    assert.equal(err.status, baton.Status.ECLOSED);
  }
  session.close();
});

test('Symbol.dispose closes engines and sessions', () => {
  const dispose = Symbol.dispose ?? Symbol.for('nodejs.dispose');
  const engine = new Engine();
  const session = engine.session();
  session[dispose]();
  assert.equal(session.closed, true);
  engine[dispose]();
  assert.equal(engine.closed, true);
});

test('engines left open are usable after heavy garbage and many sessions', (t) => {
  const engine = openEngine(t);
  engine.session().push(msg.runStart('r1'));
  for (let i = 0; i < 200; i++) {
    const s = engine.session({ client: `c-${i}` });
    s.push(msg.testStart('r1', `t${i}`));
    if (i % 2 === 0) s.close();
  }
  require('./helpers').churn(10);
  assert.equal(engine.query({ op: 'run', run: 'r1' }).counts.tests, 200);
});

test('engines and sessions dropped without close() are closed by their finalizers', () => {
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', 'finalize.js')], {
    encoding: 'utf8',
    env: process.env,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { destroyed: 1, before: 50, sessionsOpen: 0 });
});

test('engines left open at process exit are closed, flushing async durability', (t) => {
  const { spawnSync } = require('node:child_process');
  const file = path.join(tempDir(), 'exit.db');
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fixtures', 'exit-open.js'), file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const engine = openEngine(t, { path: file });
  assert.equal(engine.query({ op: 'run', run: 'exit-run' }).counts.passed, 100);
});

function catchError(fn) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an exception');
}
