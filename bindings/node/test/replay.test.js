'use strict';
// engine.replay(): collected in the C callback, then iterated.

const test = require('node:test');
const assert = require('node:assert/strict');
const { baton, openEngine, msg, recordRun } = require('./helpers');

function setup(t) {
  const engine = openEngine(t);
  const session = engine.session({ client: 'ci-replay' });
  recordRun(session, 'r1', { a: 'passed', b: 'failed' });
  recordRun(session, 'r2', { c: 'passed' });
  session.push(msg.runEnd('r1', 'failed'));
  engine.flush();
  return engine;
}

test('replay() with no filter yields every event in seq order', (t) => {
  const engine = setup(t);
  const iterator = engine.replay();
  assert.equal(typeof iterator.next, 'function');
  assert.equal(typeof iterator[Symbol.iterator], 'function');
  const events = [...iterator];
  assert.equal(events.length, 5 + 3 + 1);
  for (let i = 1; i < events.length; i++) assert.ok(events[i].seq > events[i - 1].seq);
  for (const ev of events) {
    assert.ok(ev instanceof baton.BatonEvent);
    assert.equal(ev.stage, 'replay');
    assert.equal(ev.type, ev.data.type);
    assert.equal(typeof ev.json, 'string');
  }
  assert.deepEqual(JSON.parse(JSON.stringify(events[0])).data.run, 'r1');
});

test('replay() filters by run, types and fromSeq', (t) => {
  const engine = setup(t);
  const r2 = [...engine.replay({ run: 'r2' })];
  assert.deepEqual(r2.map((e) => e.type), ['run.start', 'test.start', 'test.end']);
  assert.ok(r2.every((e) => e.data.run === 'r2'));

  const ends = [...engine.replay({ run: 'r1', types: ['test.end'] })];
  assert.deepEqual(ends.map((e) => [e.data.id, e.data.status]), [['a', 'passed'], ['b', 'failed']]);

  const all = [...engine.replay()];
  const from = all[4].seq;
  const tail = [...engine.replay({ fromSeq: from })];
  assert.deepEqual(tail.map((e) => e.seq), all.slice(4).map((e) => e.seq));
});

test('replay() stops early with limit', (t) => {
  const engine = setup(t);
  assert.deepEqual([...engine.replay({ limit: 2 })].map((e) => e.type), ['run.start', 'test.start']);
  assert.equal([...engine.replay({ limit: 0 })].length, 0);
});

test('replay() of an empty log, or a run that does not exist, yields nothing', (t) => {
  const empty = openEngine(t);
  assert.deepEqual([...empty.replay()], []);
  const engine = setup(t);
  // A run that was never started is either empty or refused as not_found.
  try {
    assert.deepEqual([...engine.replay({ run: 'missing' })], []);
  } catch (err) {
    assert.ok(err instanceof baton.NotFoundError, String(err));
    assert.equal(err.code, 'not_found');
  }
});

test('replay() with a malformed filter is refused with a code', (t) => {
  const engine = setup(t);
  let err = null;
  try {
    engine.replay({ types: 'test.end' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof baton.BatonError, String(err));
  assert.throws(() => engine.replay({ fromSeq: 'x' }), TypeError);
});
