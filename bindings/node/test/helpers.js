'use strict';
// Shared helpers of the binding's tests.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const baton = require('..');

/** A fresh temporary directory, removed when the process exits. */
function tempDir(prefix = 'baton-node-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens an engine that the test closes through `t.after`. */
function openEngine(t, options) {
  const engine = new baton.Engine(options);
  t.after(() => engine.close());
  return engine;
}

function sha256(text) {
  return crypto.createHash('sha256').update(text).digest('hex');
}

const msg = {
  runStart: (run, extra = {}) => ({ type: 'run.start', run, ...extra }),
  runEnd: (run, status = 'passed') => ({ type: 'run.end', run, status }),
  suiteStart: (run, id, name = id) => ({ type: 'suite.start', run, id, name }),
  testStart: (run, id, extra = {}) => ({ type: 'test.start', run, id, name: id, ...extra }),
  testEnd: (run, id, status = 'passed', extra = {}) => ({ type: 'test.end', run, id, status, ...extra }),
};

/** Pushes a run with the given test outcomes: {id: status}. */
function recordRun(session, run, outcomes) {
  session.push(msg.runStart(run));
  for (const [id, status] of Object.entries(outcomes)) {
    session.push(msg.testStart(run, id));
    session.push(msg.testEnd(run, id, status, { duration_ms: 5 }));
  }
}

/** Creates garbage so that a collection is likely to run (global.gc is not exposed). */
function churn(rounds = 20) {
  let keep = 0;
  for (let r = 0; r < rounds; r++) {
    const junk = [];
    for (let i = 0; i < 20000; i++) junk.push({ i, s: `garbage-${i}-${r}`, a: [i, i + 1] });
    keep += junk.length;
  }
  return keep;
}

module.exports = { baton, tempDir, openEngine, sha256, msg, recordRun, churn };
