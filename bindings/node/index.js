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

module.exports = {
  load,
  version,
  abiVersion,
  statusName,
  lastError,
  ABI_VERSION: native.ABI_VERSION,
  Status: errors.Status,
  LogLevel: LOG_LEVELS,
  Engine,
  Session,
  Plugin,
  BatonEvent,
  BatonError: errors.BatonError,
  InvalidArgumentError: errors.InvalidArgumentError,
  ParseError: errors.ParseError,
  InvalidError: errors.InvalidError,
  DeniedError: errors.DeniedError,
  RateLimitedError: errors.RateLimitedError,
  ConflictError: errors.ConflictError,
  NotFoundError: errors.NotFoundError,
  RejectedError: errors.RejectedError,
  StorageError: errors.StorageError,
  ClosedError: errors.ClosedError,
  InternalError: errors.InternalError,
  UserError: errors.UserError,
};
