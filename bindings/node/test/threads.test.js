'use strict';
// Threads: each worker thread opens its own Engine (handles do not cross
// isolates) on its own file store; one engine serves many async tasks.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { baton, openEngine, tempDir, msg } = require('./helpers');

const WORKER = path.join(__dirname, 'fixtures', 'worker.js');

function runWorker(workerData) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData });
    let result = null;
    worker.on('message', (m) => (result = m));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 ? resolve(result) : reject(new Error(`worker exited with ${code}`))));
  });
}

test('several worker threads, each with its own engine on its own file store', async () => {
  const dir = tempDir();
  const jobs = [0, 1, 2, 3].map((i) => ({ db: path.join(dir, `w${i}.db`), run: `run-w${i}`, tests: 50 + i }));
  const results = await Promise.all(jobs.map(runWorker));
  for (const [i, r] of results.entries()) {
    assert.equal(r.run, jobs[i].run);
    assert.equal(r.counts.tests, jobs[i].tests);
    assert.equal(r.observed, 1 + jobs[i].tests * 2 + 1, 'the worker\'s own JS observer saw every event');
    assert.equal(r.destroyed, 1);
  }
  // What the workers wrote is durable: the main thread reopens each store.
  for (const job of jobs) {
    const engine = new baton.Engine({ path: job.db });
    try {
      const run = engine.query({ op: 'run', run: job.run });
      assert.equal(run.counts.tests, job.tests);
      assert.equal(run.counts.failed, Math.ceil(job.tests / 10));
    } finally {
      engine.close();
    }
  }
});

test('the binding keeps working in the main thread while workers run', async (t) => {
  const dir = tempDir();
  const engine = openEngine(t);
  const session = engine.session();
  session.push(msg.runStart('main'));
  const pending = runWorker({ db: path.join(dir, 'side.db'), run: 'side', tests: 30 });
  for (let i = 0; i < 100; i++) {
    session.push(msg.testStart('main', `t${i}`));
    if (i % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  const side = await pending;
  assert.equal(side.counts.tests, 30);
  assert.equal(engine.query({ op: 'run', run: 'main' }).counts.tests, 100);
});

test('one engine shared by many concurrent async tasks', async (t) => {
  const engine = openEngine(t);
  let observed = 0;
  engine.addPlugin('count', { observe: () => void observed++ });
  const tick = () => new Promise((r) => setImmediate(r));
  const tasks = Array.from({ length: 8 }, async (_, w) => {
    const session = engine.session({ client: `async-${w}` });
    const run = `async-run-${w}`;
    session.push(msg.runStart(run));
    for (let i = 0; i < 25; i++) {
      session.push(msg.testStart(run, `t${i}`));
      await tick();
      session.push(msg.testEnd(run, `t${i}`, i % 5 === 0 ? 'failed' : 'passed', { duration_ms: i }));
      if (i % 7 === 0) assert.equal(engine.query({ op: 'run', run }).run, run);
    }
    session.push(msg.runEnd(run, 'failed'));
    session.close();
    return run;
  });
  const runs = await Promise.all(tasks);
  engine.flush();
  for (const run of runs) {
    const summary = engine.query({ op: 'run', run });
    assert.equal(summary.counts.tests, 25);
    assert.equal(summary.counts.failed, 5);
  }
  assert.equal(observed, 8 * (1 + 25 * 2 + 1));
});
