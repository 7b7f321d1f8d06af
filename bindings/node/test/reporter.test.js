'use strict';
// The node:test reporter: a real `node --test` run of fixtures/sample recorded
// into a file store, its JUnit written, its console lines readable.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { baton, tempDir } = require('./helpers');

const PACKAGE = path.resolve(__dirname, '..');
const REPORTER = path.join(PACKAGE, 'reporter.js');
const SAMPLE = path.join(__dirname, 'fixtures', 'sample');

function runSample(reporterSpec, env, cwd = SAMPLE) {
  return spawnSync(process.execPath, ['--test', `--test-reporter=${reporterSpec}`, 'math.test.js', 'other.test.js'], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

test('node --test with the baton reporter records the run and writes JUnit', () => {
  const dir = tempDir();
  const db = path.join(dir, 'runs.db');
  const junit = path.join(dir, 'out', 'junit.xml');
  const r = runSample(REPORTER, { BATON_DB: db, BATON_JUNIT: junit, BATON_RUN: 'sample-run', BATON_BUILD: 'build-42' });

  // The sample has failures, so node --test exits 1; the reporter itself must not crash.
  assert.equal(r.status, 1, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /baton reporter:/, r.stderr);

  // Console lines, spec-like.
  assert.match(r.stdout, /✔ adds \(/);
  assert.match(r.stdout, /✖ subtracts wrongly \(/);
  assert.match(r.stdout, /five minus three/);
  assert.match(r.stdout, /﹣ skipped for now .*# SKIP/);
  assert.match(r.stdout, /# to be written .*# TODO/);
  assert.match(r.stdout, /▶ strings/);
  assert.match(r.stdout, /^ {4}✔ counts code points: 日本/m);
  assert.match(r.stdout, /ℹ tests \d+/);
  assert.match(r.stdout, /ℹ baton run sample-run: failed/);
  assert.match(r.stdout, /JUnit written to/);

  // JUnit on disk.
  const xml = fs.readFileSync(junit, 'utf8');
  assert.match(xml, /<testsuites?[\s>]/);
  assert.match(xml, /adds/);
  assert.match(xml, /subtracts wrongly/);
  assert.match(xml, /<failure/);
  assert.match(xml, /<skipped/);
  assert.match(xml, /counts code points: 日本/);

  // The run in the store.
  const engine = new baton.Engine({ path: db });
  try {
    const run = engine.query({ op: 'run', run: 'sample-run' });
    assert.equal(run.status, 'failed');
    // adds, subtracts, skipped, todo, concatenates, unicode, times out,
    // never runs, broken setup (hook), first step, second step.
    assert.equal(run.counts.tests, 11);
    assert.equal(run.counts.passed, 5);
    assert.equal(run.counts.failed, 2);
    assert.equal(run.counts.skipped, 2);
    assert.equal(run.counts.timedout, 1);
    assert.equal(run.counts.interrupted, 1);

    const ends = new Map();
    for (const ev of engine.replay({ run: 'sample-run', types: ['test.end'] })) ends.set(ev.data.id, ev.data);
    const byName = (suffix) => [...ends.entries()].find(([id]) => id.endsWith(suffix))?.[1];
    const failed = byName('subtracts wrongly');
    assert.equal(failed.status, 'failed');
    assert.match(failed.error.message, /five minus three/);
    assert.match(failed.error.stack, /math\.test\.js/);
    assert.equal(failed.error.type, 'AssertionError');
    assert.equal(typeof failed.duration_ms, 'number');
    assert.equal(byName('times out').status, 'timedout');
    assert.equal(byName('never runs').status, 'interrupted');
    assert.equal(byName('to be written').meta.todo, 'next sprint');
    assert.equal(byName('skipped for now').meta.skip, 'not on this platform');
    assert.match(byName('broken setup (hook)').error.message, /database unavailable/);

    const suites = [...engine.replay({ run: 'sample-run', types: ['suite.start'] })].map((e) => e.data);
    const names = suites.map((s) => s.name);
    for (const n of ['math.test.js', 'other.test.js', 'strings', 'unicode', 'broken setup', 'lives in another file']) {
      assert.ok(names.includes(n), `suite ${n} in ${names}`);
    }
    const unicode = suites.find((s) => s.name === 'unicode');
    const strings = suites.find((s) => s.name === 'strings');
    assert.equal(unicode.parent, strings.id);
    assert.equal(strings.parent, suites.find((s) => s.name === 'math.test.js').id);

    const starts = [...engine.replay({ run: 'sample-run', types: ['run.start'] })];
    assert.equal(starts[0].data.build, 'build-42');
  } finally {
    engine.close();
  }
});

test('the reporter resolves as baton/reporter when the package is linked', () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(PACKAGE, path.join(dir, 'node_modules', 'baton'), 'dir');
  for (const f of fs.readdirSync(SAMPLE)) fs.copyFileSync(path.join(SAMPLE, f), path.join(dir, f));
  const r = runSample('baton/reporter', { BATON_RUN: 'linked', BATON_JUNIT: path.join(dir, 'junit.xml') }, dir);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stdout, /ℹ baton run linked: failed/);
  assert.ok(fs.existsSync(path.join(dir, 'junit.xml')));
});

test('an all-green run exits 0 and the run is passed', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'green.test.js'), "require('node:test')('fine', () => {});\n");
  const r = spawnSync(process.execPath, ['--test', `--test-reporter=${REPORTER}`, 'green.test.js'], {
    cwd: dir,
    env: { ...process.env, BATON_RUN: 'green' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ℹ baton run green: passed \(tests 1, passed 1, failed 0/);
  // The default JUnit path is reports/junit-node.xml under the working directory.
  assert.ok(fs.existsSync(path.join(dir, 'reports', 'junit-node.xml')));
});
