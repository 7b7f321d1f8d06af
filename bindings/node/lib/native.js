'use strict';
// Loads libbaton and declares every function of capi/include/baton/baton.h with koffi.
//
// Discovery order: $BATON_LIBRARY, then libbaton.so* next to the package and in
// ../../build/ (the repository's build tree), then the system loader.
// The loaded library must report baton_abi_version() === 1.

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

const ABI_VERSION = 1;

const PACKAGE_DIR = path.resolve(__dirname, '..');

function sharedLibraryPattern() {
  if (process.platform === 'darwin') return /^libbaton(\.\d+)*\.dylib$/;
  if (process.platform === 'win32') return /^(lib)?baton(-\d+)?\.dll$/;
  return /^libbaton\.so(\.\d+)*$/;
}

function systemLibraryNames() {
  if (process.platform === 'darwin') return ['libbaton.1.dylib', 'libbaton.dylib'];
  if (process.platform === 'win32') return ['baton.dll'];
  return ['libbaton.so.1', 'libbaton.so'];
}

// The shortest matching name first: libbaton.so is the dev symlink, libbaton.so.1
// the soname link; both lead to the same file.
function librariesIn(dir) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const pattern = sharedLibraryPattern();
  return names
    .filter((n) => pattern.test(n))
    .sort((a, b) => a.length - b.length || a.localeCompare(b))
    .map((n) => path.join(dir, n));
}

function candidatePaths() {
  const fromEnv = process.env.BATON_LIBRARY;
  if (fromEnv) return { explicit: true, paths: [fromEnv] };
  const dirs = [PACKAGE_DIR, path.join(PACKAGE_DIR, 'lib'), path.resolve(PACKAGE_DIR, '..', '..', 'build')];
  const paths = [];
  for (const dir of dirs) paths.push(...librariesIn(dir));
  return { explicit: false, paths: paths.concat(systemLibraryNames()), searched: dirs };
}

function tryLoad(spec) {
  try {
    return { lib: koffi.load(spec) };
  } catch (err) {
    return { error: err };
  }
}

function openLibrary(explicitPath) {
  if (explicitPath) {
    const r = tryLoad(explicitPath);
    if (r.lib) return { lib: r.lib, path: explicitPath };
    throw new Error(`baton: cannot load the library at ${explicitPath}: ${r.error.message}`);
  }
  const c = candidatePaths();
  const failures = [];
  for (const p of c.paths) {
    const r = tryLoad(p);
    if (r.lib) return { lib: r.lib, path: p };
    failures.push(`  ${p}: ${r.error.message}`);
    if (c.explicit) break;
  }
  const where = c.explicit
    ? 'BATON_LIBRARY'
    : `BATON_LIBRARY (unset), libbaton in ${c.searched.join(', ')}, and the system loader`;
  throw new Error(
    `baton: cannot find the baton shared library (searched ${where}).\n` +
      `Build it (cmake --build build --target baton) or set BATON_LIBRARY to its path.\n` +
      failures.join('\n'),
  );
}

// Types. Handles are opaque; koffi represents their pointers as BigInt values.
const engineType = koffi.opaque('baton_engine');
const sessionType = koffi.opaque('baton_session');
const eventType = koffi.opaque('baton_event');

const filterProto = koffi.proto('int baton_filter_fn(void *user_data, baton_event *ev)');
const observeProto = koffi.proto('int baton_observe_fn(void *user_data, const baton_event *ev)');
const destroyProto = koffi.proto('void baton_destroy_fn(void *user_data)');
const logProto = koffi.proto('void baton_log_fn(void *user_data, int level, const char *message)');
const replayProto = koffi.proto('int baton_replay_fn(void *user_data, const baton_event *ev)');

// Every function of baton.h. Inputs that carry a length are declared as byte
// pointers so a Buffer is passed as is; char** outputs are received as raw
// pointers (read with koffi.decode, then released with baton_free).
const DECLARATIONS = {
  baton_version: 'const char *baton_version()',
  baton_abi_version: 'int baton_abi_version()',
  baton_status_name: 'const char *baton_status_name(int status)',
  baton_last_error: 'const char *baton_last_error()',
  baton_free: 'void baton_free(void *p)',

  baton_open: 'int baton_open(const char *options_json, _Out_ baton_engine **out)',
  baton_close: 'int baton_close(baton_engine *e)',
  baton_flush: 'int baton_flush(baton_engine *e)',
  baton_clock_set: 'int baton_clock_set(baton_engine *e, int64_t now_ms)',
  baton_access_reload: 'int baton_access_reload(baton_engine *e, const char *access_json)',

  baton_session_open:
    'int baton_session_open(baton_engine *e, const char *credentials_json, _Out_ baton_session **out)',
  baton_session_close: 'int baton_session_close(baton_session *s)',
  baton_push:
    'int baton_push(baton_session *s, const uint8_t *msg, size_t len, _Out_ void **reply, _Out_ size_t *reply_len)',
  baton_session_query:
    'int baton_session_query(baton_session *s, const char *request_json, _Out_ void **out, _Out_ size_t *out_len)',

  baton_query: 'int baton_query(baton_engine *e, const char *request_json, _Out_ void **out, _Out_ size_t *out_len)',
  baton_export:
    'int baton_export(baton_engine *e, const char *run, const char *format, _Out_ void **out, _Out_ size_t *out_len)',

  baton_event_type: 'const char *baton_event_type(const baton_event *ev)',
  baton_event_json: 'const void *baton_event_json(const baton_event *ev, _Out_ size_t *len)',
  baton_event_seq: 'int64_t baton_event_seq(const baton_event *ev)',
  baton_event_replace: 'int baton_event_replace(baton_event *ev, const uint8_t *json, size_t len)',

  baton_plugin_add:
    'int baton_plugin_add(baton_engine *e, const char *name, baton_filter_fn *filter, baton_observe_fn *observe, ' +
    'baton_destroy_fn *destroy, void *user_data, _Out_ uint64_t *out_id)',
  baton_plugin_remove: 'int baton_plugin_remove(baton_engine *e, uint64_t id)',

  baton_set_logger: 'int baton_set_logger(baton_engine *e, baton_log_fn *fn, int min_level, void *user_data)',

  baton_replay: 'int baton_replay(baton_engine *e, const char *filter_json, baton_replay_fn *fn, void *user_data)',
};

let loaded = null;

function bind(lib, libraryPath) {
  // The ABI version first: a library of another ABI may lack or change functions.
  let abiFn;
  try {
    abiFn = lib.func(DECLARATIONS.baton_abi_version);
  } catch (err) {
    throw new Error(`baton: the library at ${libraryPath} lacks baton_abi_version (${err.message}); it is not a baton library`);
  }
  const abi = abiFn();
  if (abi !== ABI_VERSION) {
    throw new Error(
      `baton: the library at ${libraryPath} has ABI version ${abi}, this binding needs ABI version ${ABI_VERSION}; ` +
        `install a matching libbaton or a matching binding`,
    );
  }
  const fns = {};
  for (const [name, decl] of Object.entries(DECLARATIONS)) {
    try {
      fns[name] = lib.func(decl);
    } catch (err) {
      throw new Error(`baton: the library at ${libraryPath} lacks ${name} (${err.message}); it is not a baton ABI ${ABI_VERSION} library`);
    }
  }
  return fns;
}

// Loads (once) and returns the bound functions. `libraryPath` forces a path on
// the first call; later calls with a different path are refused.
function load(libraryPath) {
  if (loaded) {
    if (libraryPath && path.resolve(libraryPath) !== path.resolve(loaded.path)) {
      throw new Error(`baton: the library is already loaded from ${loaded.path}`);
    }
    return loaded;
  }
  const { lib, path: p } = openLibrary(libraryPath);
  let fns;
  try {
    fns = bind(lib, p);
  } catch (err) {
    try {
      lib.unload();
    } catch {
      // Unloading is best effort; the error that matters is the one above.
    }
    throw err;
  }
  loaded = { lib, path: p, fns, version: fns.baton_version() };
  return loaded;
}

function isLoaded() {
  return loaded !== null;
}

module.exports = {
  koffi,
  ABI_VERSION,
  load,
  isLoaded,
  candidatePaths,
  protos: { filter: filterProto, observe: observeProto, destroy: destroyProto, log: logProto, replay: replayProto },
  types: { engine: engineType, session: sessionType, event: eventType },
};
