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

// The child is a run of its own: node:test marks its children with
// NODE_TEST_CONTEXT, which would make a nested `node --test` skip its files.
function childEnv(extra) {
  const env = { ...process.env };
  // The run these tests belong to may itself be recorded by this reporter:
  // its settings must not leak into the sample runs.
  for (const key of Object.keys(env)) {
    if (key.startsWith('BATON_') && key !== 'BATON_LIBRARY') delete env[key];
  }
  Object.assign(env, extra);
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function runSample(reporterSpec, env, cwd = SAMPLE) {
  return spawnSync(process.execPath, ['--test', `--test-reporter=${reporterSpec}`, 'math.test.js', 'other.test.js'], {
    cwd,
    env: childEnv(env),
    encoding: 'utf8',
    timeout: 60_000,
  });
}

// Whether the loaded library has the JUnit exporter (another part of baton).
function junitAvailable() {
  const engine = new baton.Engine();
  try {
    const session = engine.session();
    session.push({ type: 'run.start', run: 'probe' });
    engine.export('probe', 'junit');
    return true;
  } catch {
    return false;
  } finally {
    engine.close();
  }
}
const JUNIT = junitAvailable();

let sampleRun = null;
function sample() {
  if (!sampleRun) {
    const dir = tempDir();
    const db = path.join(dir, 'runs.db');
    const junit = path.join(dir, 'out', 'junit.xml');
    const r = runSample(REPORTER, { BATON_DB: db, BATON_JUNIT: junit, BATON_RUN: 'sample-run', BATON_BUILD_ID: 'build-42' });
    sampleRun = { r, db, junit };
  }
  return sampleRun;
}

test('node --test with the baton reporter prints spec-like lines', () => {
  const { r } = sample();
  assert.match(r.stdout, /✔ adds \(/);
  assert.match(r.stdout, /ℹ checked with small numbers/);
  assert.match(r.stdout, /✖ subtracts wrongly \(/);
  assert.match(r.stdout, /five minus three/);
  assert.match(r.stdout, /﹣ skipped for now .*# SKIP/);
  assert.match(r.stdout, /# to be written .*# TODO/);
  assert.match(r.stdout, /▶ strings/);
  assert.match(r.stdout, /^ {4}✔ counts code points: 日本/m);
  assert.match(r.stdout, /✖ times out/);
  assert.match(r.stdout, /ℹ tests \d+/);
  assert.match(r.stdout, /ℹ baton run sample-run: failed \(tests 11, passed 5, failed 2, skipped 2, timedout 1, interrupted 1/);
});

test('node --test with the baton reporter records the run into baton', () => {
  const { db } = sample();
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
    assert.equal(typeof run.duration_ms, 'number');

    const ends = new Map();
    for (const ev of engine.replay({ run: 'sample-run', types: ['test.end'] })) ends.set(ev.data.id, ev.data);
    const byName = (suffix) => [...ends.entries()].find(([id]) => id.endsWith(suffix))?.[1];
    const failed = byName('subtracts wrongly');
    assert.equal(failed.status, 'failed');
    assert.match(failed.error.message, /five minus three/);
    assert.match(failed.error.stack, /math\.test\.js/);
    assert.equal(failed.error.type, 'AssertionError');
    assert.equal(typeof failed.duration_ms, 'number');
    assert.equal(byName('adds').status, 'passed');
    assert.equal(byName('times out').status, 'timedout');
    assert.equal(byName('never runs').status, 'interrupted');
    assert.equal(byName('to be written').status, 'skipped');
    assert.equal(byName('to be written').meta.todo, 'next sprint');
    assert.equal(byName('skipped for now').meta.skip, 'not on this platform');
    assert.match(byName('broken setup (hook)').error.message, /database unavailable/);

    const logs = [...engine.replay({ run: 'sample-run', types: ['test.log'] })].map((e) => e.data);
    assert.deepEqual(
      logs.map((l) => [l.id, l.message]),
      [['math.test.js > adds', 'checked with small numbers']],
    );

    const starts = new Map();
    for (const ev of engine.replay({ run: 'sample-run', types: ['test.start'] })) starts.set(ev.data.id, ev.data);
    const unicodeTest = [...starts.values()].find((d) => d.name === 'counts code points: 日本');
    assert.equal(unicodeTest.file, 'math.test.js');

    const suites = [...engine.replay({ run: 'sample-run', types: ['suite.start'] })].map((e) => e.data);
    const names = suites.map((s) => s.name);
    for (const n of ['math.test.js', 'other.test.js', 'strings', 'unicode', 'broken setup', 'lives in another file']) {
      assert.ok(names.includes(n), `suite ${n} in ${names}`);
    }
    const unicode = suites.find((s) => s.name === 'unicode');
    const strings = suites.find((s) => s.name === 'strings');
    assert.equal(unicode.parent, strings.id);
    assert.equal(strings.parent, suites.find((s) => s.name === 'math.test.js').id);
    assert.equal(unicodeTest.suite, unicode.id);

    const [start] = [...engine.replay({ run: 'sample-run', types: ['run.start'] })];
    assert.equal(start.data.build, 'build-42');
    assert.equal([...engine.replay({ run: 'sample-run', types: ['run.end'] })].length, 1);
  } finally {
    engine.close();
  }
});

test('the reporter writes the JUnit of the run', { skip: !JUNIT && 'the loaded libbaton has no JUnit exporter yet' }, () => {
  const { r, junit } = sample();
  // The sample has failures, so node --test exits 1; the reporter itself does not fail.
  assert.equal(r.status, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /baton reporter:/);
  assert.match(r.stdout, /JUnit written to/);
  const xml = fs.readFileSync(junit, 'utf8');
  assert.match(xml, /<testsuites?[\s>]/);
  assert.match(xml, /adds/);
  assert.match(xml, /subtracts wrongly/);
  assert.match(xml, /<failure/);
  assert.match(xml, /<skipped/);
  assert.match(xml, /counts code points: 日本/);
});

test('without a JUnit exporter the reporter fails with a clear error', { skip: JUNIT && 'the loaded libbaton exports JUnit' }, () => {
  const { r, junit } = sample();
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /baton reporter: the loaded libbaton cannot export JUnit/);
  assert.match(r.stderr, /The run was recorded, but no JUnit file was written/);
  assert.equal(fs.existsSync(junit), false);
});

test('the reporter resolves as baton/reporter when the package is linked', () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(PACKAGE, path.join(dir, 'node_modules', 'baton'), 'dir');
  for (const f of fs.readdirSync(SAMPLE)) fs.copyFileSync(path.join(SAMPLE, f), path.join(dir, f));
  const r = runSample('baton/reporter', { BATON_RUN: 'linked', BATON_JUNIT: path.join(dir, 'junit.xml') }, dir);
  assert.match(r.stdout, /ℹ baton run linked: failed/, r.stderr);
  assert.equal(fs.existsSync(path.join(dir, 'junit.xml')), JUNIT);
});

test('an all-green run is a passed run', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'green.test.js'), "require('node:test')('fine', () => {});\n");
  const r = spawnSync(process.execPath, ['--test', `--test-reporter=${REPORTER}`, 'green.test.js'], {
    cwd: dir,
    env: childEnv({ BATON_RUN: 'green' }),
    encoding: 'utf8',
  });
  assert.match(r.stdout, /ℹ baton run green: passed \(tests 1, passed 1, failed 0/, r.stderr);
  // The default JUnit path is reports/junit-node.xml under the working directory.
  assert.equal(r.status, JUNIT ? 0 : 1, r.stderr);
  assert.equal(fs.existsSync(path.join(dir, 'reports', 'junit-node.xml')), JUNIT);
});

test('a test file that fails as a whole is recorded as a failed "(whole file)" test with its stderr', () => {
  const dir = tempDir();
  const db = path.join(dir, 'runs.db');
  fs.writeFileSync(path.join(dir, 'broken.test.js'), 'this is not javascript (\n');
  fs.writeFileSync(path.join(dir, 'exits.test.js'), "require('node:test')('ok', () => {});\nprocess.exitCode = 3;\n");
  const r = spawnSync(process.execPath, ['--test', `--test-reporter=${REPORTER}`, 'broken.test.js', 'exits.test.js'], {
    cwd: dir,
    env: childEnv({ BATON_RUN: 'whole', BATON_DB: db }),
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stdout, /✖ broken\.test\.js \(whole file\)\n {2}the test file exited with code 1: SyntaxError/);
  assert.match(r.stdout, /✖ exits\.test\.js \(whole file\)\n {2}the test file exited with code 3/);
  const engine = new baton.Engine({ path: db });
  try {
    const ends = [...engine.replay({ run: 'whole', types: ['test.end'] })].map((e) => e.data);
    const broken = ends.find((d) => d.id === 'broken.test.js > (whole file)');
    assert.equal(broken.status, 'failed');
    assert.match(broken.error.message, /SyntaxError/);
    assert.match(broken.stderr, /this is not javascript/);
    assert.equal(ends.find((d) => d.id === 'exits.test.js > ok').status, 'passed');
    assert.equal(engine.query({ op: 'run', run: 'whole' }).counts.failed, 2);
  } finally {
    engine.close();
  }
});

test('a run cut short by SIGINT is ended as interrupted, keeping what finished', async () => {
  const { spawn } = require('node:child_process');
  const dir = tempDir();
  const db = path.join(dir, 'runs.db');
  fs.writeFileSync(
    path.join(dir, 'slow.test.js'),
    "const test = require('node:test');\n" +
      "test('quick', () => {});\n" +
      'test(\'slow\', () => new Promise((resolve) => setTimeout(resolve, 30000)));\n',
  );
  const child = spawn(process.execPath, ['--test', `--test-reporter=${REPORTER}`, 'slow.test.js'], {
    cwd: dir,
    env: childEnv({ BATON_RUN: 'cut', BATON_DB: db, BATON_JUNIT: path.join(dir, 'junit.xml') }),
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "quick" result in time:\n${stdout}\n${stderr}`)), 20000);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stdout.includes('✔ quick')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.kill('SIGINT');
  await exited;
  assert.match(stderr, /ℹ baton run cut: interrupted/);
  assert.equal(fs.existsSync(path.join(dir, 'junit.xml')), JUNIT);
  const engine = new baton.Engine({ path: db });
  try {
    const run = engine.query({ op: 'run', run: 'cut' });
    assert.equal(run.status, 'interrupted');
    assert.equal(run.counts.passed, 1);
  } finally {
    engine.close();
  }
});

test('a run baton refuses to start makes the reporter fail, naming the refusal', () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'one.test.js'), "require('node:test')('fine', () => {});\n");
  const r = spawnSync(process.execPath, ['--test', `--test-reporter=${REPORTER}`, 'one.test.js'], {
    cwd: dir,
    env: childEnv({ BATON_RUN: 'x'.repeat(300) }),
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /baton reporter: baton refused \d+ event\(s\):\s+run\.start/);
});
