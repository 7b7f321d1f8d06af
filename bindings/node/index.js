'use strict';
// baton for Node: a koffi binding over the C ABI (capi/include/baton/baton.h).
//
//   const { Engine } = require('baton');
//   using engine = new Engine({ path: ':memory:' });
//   const session = engine.session({ client: 'ci-1' });
//   session.push({ type: 'run.start', run: 'r1' });   // -> { ok: true, seq: 1 }
//
// The shared library is loaded on first use (see lib/native.js for where it is
// looked for); call load(path) first to choose it explicitly.

const native = require('./lib/native');
const errors = require('./lib/errors');
const { Engine, Session, Plugin, BatonEvent, LOG_LEVELS, lastError } = require('./lib/engine');

/** Loads the library (optionally from `libraryPath`) and returns its path and version. */
function load(libraryPath) {
  const l = native.load(libraryPath);
  return { path: l.path, version: l.version, abiVersion: l.fns.baton_abi_version() };
}

/** "MAJOR.MINOR.PATCH" of the loaded library. */
function version() {
  return native.load().fns.baton_version();
}

/** The ABI version of the loaded library (1). */
function abiVersion() {
  return native.load().fns.baton_abi_version();
}

/** The library's name for a status code ("ok", "invalid", ...). */
function statusName(status) {
  return native.load().fns.baton_status_name(status);
}

// One assignment per name, so ESM `import { Engine } from 'baton'` sees them all.
exports.load = load;
exports.version = version;
exports.abiVersion = abiVersion;
exports.statusName = statusName;
exports.lastError = lastError;
exports.ABI_VERSION = native.ABI_VERSION;
exports.Status = errors.Status;
exports.LogLevel = LOG_LEVELS;
exports.Engine = Engine;
exports.Session = Session;
exports.Plugin = Plugin;
exports.BatonEvent = BatonEvent;
exports.BatonError = errors.BatonError;
exports.InvalidArgumentError = errors.InvalidArgumentError;
exports.ParseError = errors.ParseError;
exports.InvalidError = errors.InvalidError;
exports.DeniedError = errors.DeniedError;
exports.RateLimitedError = errors.RateLimitedError;
exports.ConflictError = errors.ConflictError;
exports.NotFoundError = errors.NotFoundError;
exports.RejectedError = errors.RejectedError;
exports.StorageError = errors.StorageError;
exports.ClosedError = errors.ClosedError;
exports.InternalError = errors.InternalError;
exports.UserError = errors.UserError;
