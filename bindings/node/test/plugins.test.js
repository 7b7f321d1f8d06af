'use strict';
// Plugins written in JS: filters that keep, reject and rewrite, observers,
// destroy called exactly once, exceptions re-thrown from the call that ran the
// callback, callbacks that stay alive, and the logger.

const test = require('node:test');
const assert = require('node:assert/strict');
const { baton, openEngine, msg, churn } = require('./helpers');

const { Engine, BatonError } = baton;

test('a filter sees the event before it is applied (seq 0) and keeps it', (t) => {
  const engine = openEngine(t);
  const seen = [];
  engine.addPlugin('watch', {
    filter(ev) {
      seen.push({ type: ev.type, seq: ev.seq, run: ev.data.run, stage: ev.stage });
    },
  });
  const reply = engine.session().push(msg.runStart('r1'));
  assert.equal(reply.ok, true);
  assert.deepEqual(seen, [{ type: 'run.start', seq: 0, run: 'r1', stage: 'filter' }]);
});

test('a filter returning true keeps, false rejects with RejectedError', (t) => {
  const engine = openEngine(t);
  engine.addPlugin('no-logs', { filter: (ev) => ev.type !== 'test.log' });
  const session = engine.session();
  session.push(msg.runStart('r1'));
  session.push(msg.testStart('r1', 't1'));
  const err = catchError(() => session.push({ type: 'test.log', run: 'r1', id: 't1', message: 'noise' }));
  assert.ok(err instanceof baton.RejectedError, String(err));
  assert.equal(err.code, 'rejected');
  assert.equal(err.status, baton.Status.EREJECTED);
  assert.equal(err.reply.code, 'rejected');
  // The rejected event is not in the log.
  const types = [...engine.replay({ run: 'r1' })].map((e) => e.type);
  assert.deepEqual(types, ['run.start', 'test.start']);
});

test('a filter rewrites the event with replace(); the stored event is the new one', (t) => {
  const engine = openEngine(t);
  engine.addPlugin('redact', {
    filter(ev) {
      if (ev.type === 'test.end' && ev.data.error) {
        const data = { ...ev.data, error: { ...ev.data.error, message: ev.data.error.message.replace(/password=\S+/, 'password=***') } };
        ev.replace(data);
        assert.equal(ev.data.error.message, 'login failed password=***');
        assert.ok(ev.json.includes('password=***'));
      }
    },
  });
  const seen = [];
  engine.addPlugin('audit', { observe: (ev) => seen.push(ev.json) });
  const session = engine.session();
  session.push(msg.runStart('r1'));
  session.push(msg.testStart('r1', 'login'));
  session.push(msg.testEnd('r1', 'login', 'failed', { error: { message: 'login failed password=hunter2' } }));
  const exported = engine.export('r1', 'json');
  assert.ok(!exported.includes('hunter2'), 'the secret never reaches the store');
  assert.ok(exported.includes('password=***'));
  assert.ok(seen.at(-1).includes('password=***'));
  assert.ok(!seen.join('').includes('hunter2'));
});

test('replace() also takes JSON text; an invalid replacement refuses the event', (t) => {
  const engine = openEngine(t);
  let mode = 'text';
  engine.addPlugin('rewrite', {
    filter(ev) {
      if (ev.type !== 'test.start') return;
      if (mode === 'text') ev.replace(JSON.stringify({ ...ev.data, name: 'renamed' }));
      else ev.replace({ type: 'test.start', run: ev.data.run }); // drops required fields
    },
  });
  const session = engine.session();
  session.push(msg.runStart('r1'));
  session.push(msg.testStart('r1', 't1'));
  assert.ok(engine.export('r1', 'json').includes('renamed'));
  mode = 'invalid';
  const err = catchError(() => session.push(msg.testStart('r1', 't2')));
  // Either replace() validates at once (its error, thrown in the filter, is
  // re-thrown here) or baton validates the rewrite after the filter returns and
  // refuses the event: both fail closed.
  assert.ok(err instanceof BatonError, String(err));
  assert.ok(['invalid', 'rejected'].includes(err.code), err.code);
  assert.ok(!engine.export('r1', 'json').includes('"t2"'));
});

test('an exception thrown by a filter is re-thrown by push and the event is not applied', (t) => {
  const engine = openEngine(t);
  class RedactionFailure extends Error {}
  engine.addPlugin('broken', {
    filter(ev) {
      if (ev.type === 'test.start') throw new RedactionFailure('cannot redact');
    },
  });
  const session = engine.session();
  session.push(msg.runStart('r1'));
  assert.throws(() => session.push(msg.testStart('r1', 't1')), RedactionFailure);
  // pushRaw re-throws callback exceptions too: they are host bugs, not refusals.
  assert.throws(() => session.pushRaw(msg.testStart('r1', 't1')), RedactionFailure);
  assert.deepEqual([...engine.replay()].map((e) => e.type), ['run.start']);
  // The engine stays usable.
  assert.equal(session.push(msg.runEnd('r1')).ok, true);
});

test('a filter returning a non-boolean (e.g. a promise) fails closed with a TypeError', (t) => {
  const engine = openEngine(t);
  engine.addPlugin('async-by-mistake', { filter: async () => true });
  const session = engine.session();
  assert.throws(() => session.push(msg.runStart('r1')), /filters are synchronous/);
  assert.equal([...engine.replay()].length, 0);
});

test('observers see applied events with their seq, in order', (t) => {
  const engine = openEngine(t);
  const seen = [];
  engine.addPlugin('observer', { observe: (ev) => seen.push({ type: ev.type, seq: ev.seq, stage: ev.stage }) });
  const session = engine.session();
  const r1 = session.push(msg.runStart('r1'));
  const r2 = session.push(msg.testStart('r1', 't'));
  engine.flush();
  assert.deepEqual(seen, [
    { type: 'run.start', seq: r1.seq, stage: 'observe' },
    { type: 'test.start', seq: r2.seq, stage: 'observe' },
  ]);
});

test('an observer exception is re-thrown, yet the event was applied', (t) => {
  const engine = openEngine(t);
  engine.addPlugin('flaky-observer', {
    observe(ev) {
      if (ev.type === 'test.start') throw new Error('observer broke');
    },
  });
  const session = engine.session();
  session.push(msg.runStart('r1'));
  assert.throws(() => {
    session.push(msg.testStart('r1', 't1'));
    engine.flush();
  }, /observer broke/);
  assert.equal(engine.query({ op: 'run', run: 'r1' }).counts.tests, 1);
});

test('event.replace() outside a filter throws', (t) => {
  const engine = openEngine(t);
  let kept = null;
  engine.addPlugin('observer', {
    observe(ev) {
      kept = ev;
      ev.replace({ type: 'run.start', run: 'x' });
    },
  });
  assert.throws(() => {
    engine.session().push(msg.runStart('r1'));
    engine.flush();
  }, /only works in a filter/);
  // A kept event still has its data, read while the callback ran.
  assert.equal(kept.data.run, 'r1');
  assert.equal(kept.type, 'run.start');
});

test('a filter event used after the callback returned refuses replace()', (t) => {
  const engine = openEngine(t);
  let kept = null;
  engine.addPlugin('keeper', { filter: (ev) => void (kept = ev) });
  engine.session().push(msg.runStart('r1'));
  assert.throws(() => kept.replace({ type: 'run.start', run: 'r2' }), /after the filter returned/);
  assert.equal(kept.data.run, 'r1');
});

test('destroy runs exactly once: on remove', (t) => {
  const engine = openEngine(t);
  let destroyed = 0;
  let filtered = 0;
  const plugin = engine.addPlugin('counted', { filter: () => void filtered++, destroy: () => destroyed++ });
  assert.equal(typeof plugin.id, 'bigint');
  const session = engine.session();
  session.push(msg.runStart('r1'));
  plugin.remove();
  assert.equal(destroyed, 1);
  assert.equal(plugin.destroyed, true);
  plugin.remove();
  session.push(msg.testStart('r1', 't'));
  assert.equal(filtered, 1, 'a removed filter is not called');
  engine.close();
  assert.equal(destroyed, 1);
});

test('destroy runs exactly once: on close', () => {
  const engine = new Engine();
  const counts = [0, 0, 0];
  const plugins = counts.map((_, i) => engine.addPlugin(`p${i}`, { observe() {}, destroy: () => counts[i]++ }));
  engine.session().push(msg.runStart('r1'));
  engine.close();
  assert.deepEqual(counts, [1, 1, 1]);
  for (const p of plugins) {
    assert.equal(p.destroyed, true);
    p.remove();
  }
  assert.deepEqual(counts, [1, 1, 1]);
});

test('destroy runs exactly once: when adding fails', (t) => {
  const engine = openEngine(t);
  let destroyed = 0;
  // A plugin with neither filter nor observe is refused by baton, which destroys it.
  const err = catchError(() => engine.addPlugin('empty', { destroy: () => destroyed++ }));
  assert.ok(err instanceof baton.InvalidArgumentError, String(err));
  assert.equal(err.code, 'invalid_argument');
  assert.match(err.message, /filter or an observe/);
  assert.equal(destroyed, 1);
  engine.close();
  assert.equal(destroyed, 1);
  // Bad arguments are refused by the binding before any C call.
  const other = openEngine(t);
  assert.throws(() => other.addPlugin('', { observe() {} }), TypeError);
  assert.throws(() => other.addPlugin('x', { observe: 'nope' }), TypeError);
});

test('Symbol.dispose removes a plugin', (t) => {
  const engine = openEngine(t);
  const dispose = Symbol.dispose ?? Symbol.for('nodejs.dispose');
  let destroyed = 0;
  const p = engine.addPlugin('scoped', { observe() {}, destroy: () => destroyed++ });
  p[dispose]();
  assert.equal(destroyed, 1);
});

test('callbacks stay alive through garbage and many add/remove cycles', (t) => {
  const engine = openEngine(t);
  const session = engine.session();
  session.push(msg.runStart('r1'));
  let observed = 0;
  // Only closures that nothing else references: the binding must keep them alive.
  engine.addPlugin('long-lived', {
    filter: ((counter) => (ev) => void counter.push(ev.type))([]),
    observe: () => void observed++,
  });
  for (let round = 0; round < 5; round++) {
    churn(5);
    const temp = engine.addPlugin(`temp-${round}`, { filter: () => true, observe: () => undefined });
    for (let i = 0; i < 50; i++) session.push(msg.testStart('r1', `t-${round}-${i}`));
    temp.remove();
  }
  // Far more cycles than koffi's 8192 callback slots: unregistering frees them.
  for (let i = 0; i < 3000; i++) engine.addPlugin(`cycle-${i}`, { filter: () => true, observe() {} }).remove();
  churn(5);
  session.push(msg.runEnd('r1'));
  engine.flush();
  assert.equal(observed, 251);
});

test('the logger receives warnings; it can be replaced and removed', (t) => {
  const engine = openEngine(t);
  const lines = [];
  engine.setLogger((level, message, name) => lines.push({ level, message, name }), 'debug');
  // An observer that reports a failure (returns false) is logged as a warning
  // naming the plugin, and counted in stats.
  engine.addPlugin('grumpy', { observe: () => false });
  const session = engine.session({ client: 'ci-log' });
  session.push(msg.runStart('r1'));
  assert.ok(lines.length >= 1, 'a warning was logged');
  const warning = lines.find((l) => l.message.includes('grumpy'));
  assert.ok(warning, JSON.stringify(lines));
  assert.equal(warning.level, baton.LogLevel.warn);
  assert.equal(warning.name, 'warn');
  const stats = engine.query({ op: 'stats' });
  const entry = stats.plugins.find((p) => p.name === 'grumpy');
  assert.equal(entry.failures, 1);

  // A logger above the level of the warnings hears nothing; null removes it.
  const quiet = [];
  engine.setLogger((level, message) => quiet.push(message), baton.LogLevel.error);
  session.push(msg.testStart('r1', 't1'));
  assert.deepEqual(quiet, []);
  engine.setLogger(null);
  const before = lines.length;
  session.push(msg.testStart('r1', 't2'));
  assert.equal(lines.length, before);
  assert.throws(() => engine.setLogger(() => {}, 'loud'), TypeError);
  assert.throws(() => engine.setLogger('not a function'), TypeError);
});

test('a logger that throws has its exception re-thrown by the call that logged', (t) => {
  const engine = openEngine(t);
  engine.setLogger(() => {
    throw new Error('logger broke');
  }, 'debug');
  engine.addPlugin('grumpy', { observe: () => false });
  const session = engine.session();
  assert.throws(() => session.push(msg.runStart('r1')), /logger broke/);
  // The event itself was applied.
  assert.equal(engine.query({ op: 'run', run: 'r1' }).run, 'r1');
  engine.setLogger(null);
  assert.equal(session.push(msg.testStart('r1', 't')).ok, true);
});

test('a logger survives garbage between calls', (t) => {
  const engine = openEngine(t);
  let heard = 0;
  engine.setLogger(() => void heard++, 'warn');
  engine.addPlugin('grumpy', { observe: () => false });
  const session = engine.session();
  session.push(msg.runStart('r1'));
  for (let i = 0; i < 5; i++) {
    churn(3);
    session.push(msg.testStart('r1', `t${i}`));
  }
  assert.equal(heard, 6);
});

test('callbacks cannot re-enter the engine: push, close and session close are refused', (t) => {
  const engine = openEngine(t);
  const session = engine.session();
  const other = engine.session();
  let attempt = null;
  engine.addPlugin('reentrant', {
    filter(ev) {
      if (ev.type !== 'test.start') return;
      if (attempt === 'push') other.push({ type: 'run.start', run: 'inner' });
      if (attempt === 'close') engine.close();
      if (attempt === 'session-close') other.close();
    },
  });
  session.push(msg.runStart('r1'));
  for (const mode of ['push', 'close', 'session-close']) {
    attempt = mode;
    const err = catchError(() => session.push(msg.testStart('r1', `t-${mode}`)));
    assert.ok(err instanceof baton.InvalidArgumentError, `${mode}: ${err}`);
    assert.equal(err.code, 'invalid_argument');
  }
  attempt = null;
  assert.equal(engine.closed, false);
  assert.equal(other.closed, false);
  assert.equal(session.push(msg.testStart('r1', 'after')).ok, true);
  assert.deepEqual([...engine.replay({ types: ['run.start'] })].map((e) => e.data.run), ['r1']);
});

function catchError(fn) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return null;
}
