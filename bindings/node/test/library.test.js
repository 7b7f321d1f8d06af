'use strict';
// The library functions, discovery and the ABI check.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { baton } = require('./helpers');

const PACKAGE = path.resolve(__dirname, '..');

function runNode(code, env = {}) {
  return spawnSync(process.execPath, ['-e', code], {
    cwd: PACKAGE,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

test('load() reports the library path, its version and ABI 1', () => {
  const info = baton.load();
  assert.match(info.version, /^\d+\.\d+\.\d+/);
  assert.equal(info.abiVersion, 1);
  assert.equal(baton.abiVersion(), baton.ABI_VERSION);
  assert.equal(baton.version(), info.version);
  assert.ok(info.path.length > 0);
});

test('statusName() names every status of the contract', () => {
  const expected = {
    0: 'ok',
    [-1]: 'invalid_argument',
    [-2]: 'parse',
    [-3]: 'invalid',
    [-4]: 'denied',
    [-5]: 'rate_limited',
    [-6]: 'conflict',
    [-7]: 'not_found',
    [-8]: 'rejected',
    [-9]: 'storage',
    [-10]: 'closed',
    [-11]: 'internal',
  };
  for (const [status, name] of Object.entries(expected)) {
    assert.equal(baton.statusName(Number(status)), name, `status ${status}`);
  }
  assert.equal(typeof baton.statusName(-12), 'string');
  assert.equal(baton.statusName(-999), 'unknown');
  assert.equal(baton.statusName(12345), 'unknown');
});

test('Status holds the stable numeric values', () => {
  assert.deepEqual(
    [baton.Status.OK, baton.Status.EINVALID_ARGUMENT, baton.Status.ERATE_LIMITED, baton.Status.EUSER],
    [0, -1, -5, -12],
  );
});

test('lastError() is "" after a success and names the failure after one', () => {
  const engine = new baton.Engine();
  engine.close();
  assert.equal(baton.lastError(), '');
  assert.throws(() => new baton.Engine({ no_such_option: 1 }));
  assert.match(baton.lastError(), /no_such_option/);
});

test('BATON_LIBRARY pointing at a missing file gives a clear error', () => {
  const r = runNode("require('./').version()", { BATON_LIBRARY: '/nonexistent/libbaton.so' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /cannot find the baton shared library/);
  assert.match(r.stderr, /\/nonexistent\/libbaton\.so/);
});

test('a library that is not baton is refused with a clear error', () => {
  const r = runNode("require('./').version()", { BATON_LIBRARY: 'libc.so.6' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /lacks baton_abi_version.*not a baton library/);
});

const BUILD_DIR = path.resolve(PACKAGE, '..', '..', 'build');
const builtHere = require('node:fs').existsSync(path.join(BUILD_DIR, 'libbaton.so'));

test('a library with another ABI version is refused on load, naming both versions', (t) => {
  const cc = ['cc', 'gcc', 'clang'].find((c) => spawnSync(c, ['--version']).status === 0);
  if (!cc) return t.skip('no C compiler to build the wrong-ABI library');
  const dir = require('node:fs').mkdtempSync(path.join(require('node:os').tmpdir(), 'baton-abi-'));
  t.after(() => require('node:fs').rmSync(dir, { recursive: true, force: true }));
  const lib = path.join(dir, 'libbaton.so');
  const build = spawnSync(cc, ['-shared', '-fPIC', '-o', lib, path.join(__dirname, 'fixtures', 'wrong-abi.c')], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const r = runNode("new (require('./').Engine)()", { BATON_LIBRARY: lib });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /has ABI version 2, this binding needs ABI version 1/);
  assert.ok(r.stderr.includes(lib));
});

test('the library is found in ../../build when BATON_LIBRARY is unset', { skip: !builtHere && `no libbaton.so in ${BUILD_DIR}` }, () => {
  const env = { ...process.env };
  delete env.BATON_LIBRARY;
  const r = spawnSync(process.execPath, ['-e', "console.log(JSON.stringify(require('./').load()))"], {
    cwd: PACKAGE,
    env,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.abiVersion, 1);
  assert.match(info.path, /libbaton/);
});

test('ESM code imports the named exports and the reporter', async () => {
  const { pathToFileURL } = require('node:url');
  const mod = await import(pathToFileURL(path.join(PACKAGE, 'index.js')).href);
  for (const name of ['Engine', 'Session', 'Plugin', 'BatonEvent', 'BatonError', 'RateLimitedError', 'Status', 'version', 'load']) {
    assert.ok(mod[name] !== undefined, `named export ${name}`);
  }
  assert.equal(mod.Engine, baton.Engine);
  const reporter = await import(pathToFileURL(path.join(PACKAGE, 'reporter.js')).href);
  assert.equal(typeof reporter.default, 'function');
});

test('load() refuses a second, different library path', () => {
  assert.throws(() => baton.load('/some/other/libbaton.so'), /already loaded/);
});
