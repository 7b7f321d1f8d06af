'use strict';
// Engine, Session, Plugin and the events that callbacks receive.
//
// Every call into the library is synchronous and runs on the calling JS thread.
// Callbacks (filters, observers, the logger, plugin destroy) are koffi registered
// callbacks; the library calls them from inside a baton_* call, so a JS
// exception thrown by one is caught in the trampoline (which returns BATON_EUSER,
// or nothing for void callbacks), stored on the engine and re-thrown by the JS
// method whose C call triggered it, once that call has returned.

const native = require('./native');
const { Status, codeOf, errorFor, ClosedError, InvalidArgumentError } = require('./errors');

const { koffi } = native;

// errorFor, with the library's own name for a status this binding does not know.
function fail(status, ctx) {
  return errorFor(status, { nameOf: (s) => fns().baton_status_name(s), ...ctx });
}

const disposeSymbol = Symbol.dispose ?? Symbol.for('nodejs.dispose');

const LOG_LEVELS = Object.freeze({ debug: 0, info: 1, warn: 2, error: 3 });
const LOG_LEVEL_NAMES = ['debug', 'info', 'warn', 'error'];

function fns() {
  return native.load().fns;
}

function toBytes(value, what) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value !== null && typeof value === 'object') return Buffer.from(JSON.stringify(value), 'utf8');
  throw new TypeError(`baton: ${what} must be an object, a JSON string or a Buffer`);
}

function toJsonText(value, what, { nullable = false } = {}) {
  if (value === undefined || value === null) {
    if (nullable) return null;
    throw new TypeError(`baton: ${what} is required`);
  }
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (typeof value === 'object') return JSON.stringify(value);
  throw new TypeError(`baton: ${what} must be an object or a JSON string`);
}

function toInt(value, what) {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw new TypeError(`baton: ${what} must be an integer`);
}

// Reads a buffer that baton returned through a char** output, then frees it.
function takeString(ptrBox, lenBox) {
  const ptr = ptrBox[0];
  if (ptr === null || ptr === undefined || ptr === 0n) return null;
  try {
    const len = Number(lenBox[0]);
    return len > 0 ? koffi.decode(ptr, 'char', len) : '';
  } finally {
    fns().baton_free(ptr);
  }
}

function parseReply(text) {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { ok: false, code: 'internal', error: `unparsable reply from baton: ${text.slice(0, 200)}` };
  }
}

function lastError() {
  return fns().baton_last_error() ?? '';
}

// ---- Events -------------------------------------------------------------

/**
 * An event seen by a filter, an observer or a replay. `type`, `seq` and `json`
 * are read while the callback runs, so the object may be kept afterwards;
 * `replace()` only works inside a filter callback.
 */
class BatonEvent {
  constructor(ptr, stage) {
    const f = fns();
    this.type = f.baton_event_type(ptr) ?? '';
    const seq = f.baton_event_seq(ptr);
    this.seq = typeof seq === 'bigint' && Number.isSafeInteger(Number(seq)) ? Number(seq) : seq;
    const lenBox = [0];
    const jsonPtr = f.baton_event_json(ptr, lenBox);
    const len = Number(lenBox[0]);
    this.json = jsonPtr === null || jsonPtr === 0n ? '' : len > 0 ? koffi.decode(jsonPtr, 'char', len) : '';
    this.stage = stage;
    this._ptr = ptr;
    this._data = undefined;
  }

  /** The event, parsed on first use. */
  get data() {
    if (this._data === undefined) this._data = JSON.parse(this.json);
    return this._data;
  }

  /** Rewrites the event (filter stage only); the new JSON is validated again. */
  replace(value) {
    if (this.stage !== 'filter') {
      throw new InvalidArgumentError('baton: event.replace() only works in a filter', {
        status: Status.EINVALID_ARGUMENT,
        code: 'invalid_argument',
      });
    }
    if (this._ptr === null) {
      throw new InvalidArgumentError('baton: event.replace() called after the filter returned', {
        status: Status.EINVALID_ARGUMENT,
        code: 'invalid_argument',
      });
    }
    const bytes = toBytes(value, 'the replacement event');
    const status = fns().baton_event_replace(this._ptr, bytes, bytes.length);
    if (status !== Status.OK) {
      throw fail(status, { detail: lastError(), what: 'baton: event.replace()' });
    }
    this.json = bytes.toString('utf8');
    this._data = undefined;
  }

  _invalidate() {
    this._ptr = null;
  }

  toJSON() {
    return { type: this.type, seq: this.seq, data: this.data };
  }
}

// ---- Engine state shared with finalizers ---------------------------------

// What a finalizer needs to release an engine that was never closed: the handle,
// the handles of its open sessions, the registered callbacks. The Engine object
// itself is not referenced from here, so it can be collected.
class EngineState {
  constructor(ptr) {
    this.ptr = ptr;
    this.closed = false;
    this.sessions = new Set();
    this.plugins = new Set();
    this.pendingRelease = [];
    this.pendingErrors = [];
    this.logger = null;
    this.depth = 0; // > 0 while a C call on this engine is running
  }

  takeErrors() {
    if (this.pendingErrors.length === 0) return null;
    const errors = this.pendingErrors;
    this.pendingErrors = [];
    return errors;
  }

  // Unregisters the callbacks of plugins whose destroy has run. Done after the C
  // call returns rather than inside destroy, so no trampoline is unregistered
  // while it is running.
  releaseDestroyed() {
    while (this.pendingRelease.length > 0) this.pendingRelease.shift().release();
  }

  closeNow() {
    if (this.closed) return { status: Status.OK, detail: '' };
    this.closed = true;
    if (this.untrack) this.untrack();
    const f = fns();
    for (const s of this.sessions) {
      if (!s.closed) {
        s.closed = true;
        f.baton_session_close(s.ptr);
      }
    }
    this.sessions.clear();
    const status = f.baton_close(this.ptr);
    const detail = status === Status.OK ? '' : lastError();
    this.releaseDestroyed();
    // destroy is called exactly once by baton_close for every plugin still added;
    // any callback left registered here means the library did not, so release it.
    for (const p of this.plugins) {
      p.orphaned = !p.destroyed;
      p.release();
    }
    this.plugins.clear();
    if (this.logger) {
      koffi.unregister(this.logger.ptr);
      this.logger = null;
    }
    this.ptr = null;
    return { status, detail };
  }
}

// Engines still open when the process (or worker) exits are closed then, so
// what async durability acknowledged is flushed. Weak: it keeps nothing alive.
const openEngines = new Set();
let exitHookInstalled = false;

function trackOpenEngine(state) {
  const ref = new WeakRef(state);
  openEngines.add(ref);
  state.untrack = () => openEngines.delete(ref);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const r of openEngines) {
        const st = r.deref();
        if (!st) continue;
        try {
          st.closeNow();
        } catch {
          // Exiting: nobody is left to tell.
        }
      }
      openEngines.clear();
    });
  }
}

const engineFinalizer = new FinalizationRegistry((state) => {
  try {
    state.closeNow();
  } catch {
    // A finalizer has nobody to report to; close() is the way to see errors.
  }
});

const sessionFinalizer = new FinalizationRegistry((sstate) => {
  if (sstate.closed || sstate.engine.closed) return;
  sstate.closed = true;
  sstate.engine.sessions.delete(sstate);
  try {
    fns().baton_session_close(sstate.ptr);
  } catch {
    // See engineFinalizer.
  }
});

function throwCallbackErrors(errors) {
  if (errors.length === 1) throw errors[0];
  throw new AggregateError(errors, `baton: ${errors.length} callbacks threw`);
}

function closedError(what) {
  return new ClosedError(`baton: ${what} is closed`, { status: Status.ECLOSED, code: 'closed' });
}

// ---- Engine ---------------------------------------------------------------

class Engine {
  /**
   * Opens an engine. `options` is the options object of baton_open (or its JSON
   * text); omitted means an in-memory store with the default settings.
   */
  constructor(options) {
    const f = fns();
    const text = toJsonText(options, 'options', { nullable: true });
    const out = [null];
    const status = f.baton_open(text, out);
    if (status !== Status.OK) {
      throw fail(status, { detail: lastError(), what: 'baton: open' });
    }
    this._state = new EngineState(out[0]);
    engineFinalizer.register(this, this._state, this._state);
    trackOpenEngine(this._state);
  }

  get closed() {
    return this._state.closed;
  }

  _ptr() {
    if (this._state.closed) throw closedError('the engine');
    return this._state.ptr;
  }

  // Runs one C call on this engine: releases plugins destroyed during it and
  // re-throws callback exceptions once it has returned. A callback's exception
  // is the root cause of whatever the call then reported, so it wins.
  _call(fn) {
    const state = this._state;
    let result;
    let failure = null;
    state.depth++;
    try {
      result = fn();
    } catch (err) {
      failure = { err };
    } finally {
      state.depth--;
      state.releaseDestroyed();
    }
    const errors = state.takeErrors();
    if (errors) throwCallbackErrors(errors);
    if (failure) throw failure.err;
    return result;
  }

  _check(status, what, reply) {
    if (status !== Status.OK) throw fail(status, { detail: lastError(), what, reply });
  }

  /** Opens a session for one client. `credentials`: {client, token} or null in open mode. */
  session(credentials) {
    const ptr = this._ptr();
    const text = toJsonText(credentials, 'credentials', { nullable: true });
    const out = [null];
    this._call(() => {
      const status = fns().baton_session_open(ptr, text, out);
      this._check(status, 'baton: session');
    });
    return new Session(this, out[0]);
  }

  /** Runs a query ({op: 'run'|'runs'|'tests'|'stats'|...}) and returns the parsed answer. */
  query(request) {
    const ptr = this._ptr();
    const text = toJsonText(request, 'the query');
    return this._call(() => {
      const outPtr = [null];
      const outLen = [0];
      const status = fns().baton_query(ptr, text, outPtr, outLen);
      const detail = status === Status.OK ? '' : lastError();
      const answer = parseReply(takeString(outPtr, outLen));
      if (status !== Status.OK) throw fail(status, { detail, what: 'baton: query', reply: answer });
      return answer;
    });
  }

  /** Exports a run as text: format 'json' | 'junit' | 'ctrf'. */
  export(run, format = 'json') {
    const ptr = this._ptr();
    if (typeof run !== 'string') throw new TypeError('baton: export needs a run id');
    if (typeof format !== 'string') throw new TypeError('baton: export format must be a string');
    return this._call(() => {
      const outPtr = [null];
      const outLen = [0];
      const status = fns().baton_export(ptr, run, format, outPtr, outLen);
      const detail = status === Status.OK ? '' : lastError();
      const text = takeString(outPtr, outLen);
      if (status !== Status.OK) throw fail(status, { detail, what: `baton: export ${format}` });
      return text ?? '';
    });
  }

  /**
   * Replays the event log. The events are collected while baton_replay runs and
   * the returned iterator walks them. `limit` stops the replay early.
   * @param {{run?: string, fromSeq?: number, types?: string[], limit?: number}} [filter]
   */
  replay(filter = {}) {
    const ptr = this._ptr();
    const { run, fromSeq, types, limit } = filter ?? {};
    const request = {};
    if (run !== undefined) request.run = run;
    if (fromSeq !== undefined) request.from_seq = toInt(fromSeq, 'fromSeq');
    if (types !== undefined) request.types = types;
    const max = limit === undefined ? Infinity : toInt(limit, 'limit');
    const text = Object.keys(request).length === 0 ? null : JSON.stringify(request, (k, v) => (typeof v === 'bigint' ? Number(v) : v));
    const events = [];
    if (max <= 0) return events.values();
    let failure = null;
    const collect = (_userData, evPtr) => {
      try {
        const ev = new BatonEvent(evPtr, 'replay');
        ev._invalidate();
        events.push(ev);
        return events.length >= max ? 1 : 0;
      } catch (err) {
        failure = err;
        return 1;
      }
    };
    this._call(() => {
      const status = fns().baton_replay(ptr, text, collect, null);
      this._check(status, 'baton: replay');
    });
    if (failure) throw failure;
    return events.values();
  }

  /** Makes everything acknowledged so far durable. */
  flush() {
    const ptr = this._ptr();
    this._call(() => this._check(fns().baton_flush(ptr), 'baton: flush'));
  }

  /** Sets the engine's time (engines opened with {"clock":"manual"} only). */
  clockSet(nowMs) {
    const ptr = this._ptr();
    const ms = nowMs instanceof Date ? nowMs.getTime() : toInt(nowMs, 'the time');
    this._call(() => this._check(fns().baton_clock_set(ptr, ms), 'baton: clockSet'));
  }

  /** Replaces the access configuration; null means open mode. */
  accessReload(access) {
    const ptr = this._ptr();
    const text = toJsonText(access, 'the access configuration', { nullable: true });
    this._call(() => this._check(fns().baton_access_reload(ptr, text), 'baton: accessReload'));
  }

  /**
   * Sends the engine's log lines to fn(level, message, levelName), for levels
   * >= minLevel (0 debug .. 3 error, or a name); null removes the logger.
   */
  setLogger(fn, minLevel = LOG_LEVELS.warn) {
    const ptr = this._ptr();
    const level = typeof minLevel === 'string' ? LOG_LEVELS[minLevel] : minLevel;
    if (!Number.isInteger(level)) throw new TypeError(`baton: unknown log level ${minLevel}`);
    if (fn !== null && fn !== undefined && typeof fn !== 'function') throw new TypeError('baton: the logger must be a function or null');
    const state = this._state;
    let registered = null;
    if (fn) {
      const trampoline = (_userData, lvl, message) => {
        try {
          fn(lvl, message ?? '', LOG_LEVEL_NAMES[lvl] ?? String(lvl));
        } catch (err) {
          state.pendingErrors.push(err);
        }
      };
      registered = { ptr: koffi.register(trampoline, koffi.pointer(native.protos.log)), fn };
    }
    try {
      this._call(() => this._check(fns().baton_set_logger(ptr, registered ? registered.ptr : null, level, null), 'baton: setLogger'));
    } catch (err) {
      if (registered) koffi.unregister(registered.ptr);
      throw err;
    }
    const previous = state.logger;
    state.logger = registered;
    if (previous) koffi.unregister(previous.ptr);
  }

  /**
   * Adds a plugin made of JS functions.
   * filter(event): undefined/true keeps the event (maybe after event.replace()),
   *   false rejects it; a thrown exception refuses it and is re-thrown by push().
   * observe(event): runs after the event is applied; its exceptions are re-thrown
   *   by the call that triggered it and counted in stats.
   * destroy(): called once, when the plugin is removed or the engine closes.
   */
  addPlugin(name, spec) {
    const ptr = this._ptr();
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('baton: a plugin needs a name');
    const { filter, observe, destroy } = spec ?? {};
    for (const [k, v] of Object.entries({ filter, observe, destroy })) {
      if (v !== undefined && v !== null && typeof v !== 'function') throw new TypeError(`baton: plugin ${k} must be a function`);
    }
    const state = this._state;
    const rec = new PluginRegistration(state, name, { filter, observe, destroy });
    state.plugins.add(rec);
    const idBox = [0];
    try {
      this._call(() => {
        const status = fns().baton_plugin_add(ptr, name, rec.filterPtr, rec.observePtr, rec.destroyPtr, null, idBox);
        this._check(status, `baton: addPlugin ${name}`);
      });
    } catch (err) {
      // destroy has run (the library calls it when the add fails) and released
      // the callbacks; release them here too in case it did not.
      rec.orphaned = !rec.destroyed;
      rec.release();
      throw err;
    }
    const plugin = new Plugin(this, name, BigInt(idBox[0]), rec);
    return plugin;
  }

  /** Closes every session, flushes, destroys plugins and closes the store. */
  close() {
    if (this._state.closed) return;
    if (this._state.depth > 0) {
      throw new InvalidArgumentError('baton: an engine cannot be closed from inside one of its callbacks', {
        status: Status.EINVALID_ARGUMENT,
        code: 'invalid_argument',
      });
    }
    engineFinalizer.unregister(this._state);
    const { status, detail } = this._state.closeNow();
    const errors = this._state.takeErrors();
    if (errors) throwCallbackErrors(errors);
    if (status !== Status.OK) throw fail(status, { detail, what: 'baton: close' });
  }

  [disposeSymbol]() {
    this.close();
  }
}

// ---- Session ----------------------------------------------------------------

class Session {
  constructor(engine, ptr) {
    this.engine = engine;
    this._sstate = { ptr, closed: false, engine: engine._state };
    engine._state.sessions.add(this._sstate);
    sessionFinalizer.register(this, this._sstate, this._sstate);
  }

  get closed() {
    return this._sstate.closed || this._sstate.engine.closed;
  }

  _ptr() {
    if (this._sstate.engine.closed) throw closedError('the engine of this session');
    if (this._sstate.closed) throw closedError('the session');
    return this._sstate.ptr;
  }

  /**
   * Pushes one message (object, JSON text or Buffer) and returns {status, code, reply}
   * without throwing on refusal. Exceptions from callbacks are still re-thrown.
   */
  pushRaw(message) {
    const ptr = this._ptr();
    const bytes = toBytes(message, 'the message');
    return this.engine._call(() => {
      const replyPtr = [null];
      const replyLen = [0];
      const status = fns().baton_push(ptr, bytes, bytes.length, replyPtr, replyLen);
      const detail = status === Status.OK ? '' : lastError();
      const reply = parseReply(takeString(replyPtr, replyLen));
      const code = codeOf(status) ?? ((reply && reply.code) || fns().baton_status_name(status));
      return { status, code, reply, detail };
    });
  }

  /** Pushes one message and returns the reply; a refusal throws a BatonError. */
  push(message) {
    const { status, reply, detail } = this.pushRaw(message);
    if (status !== Status.OK) throw fail(status, { reply, detail });
    return reply;
  }

  /** A query on behalf of this session's principal. */
  query(request) {
    const ptr = this._ptr();
    const text = toJsonText(request, 'the query');
    return this.engine._call(() => {
      const outPtr = [null];
      const outLen = [0];
      const status = fns().baton_session_query(ptr, text, outPtr, outLen);
      const detail = status === Status.OK ? '' : lastError();
      const answer = parseReply(takeString(outPtr, outLen));
      if (status !== Status.OK) throw fail(status, { detail, what: 'baton: query', reply: answer });
      return answer;
    });
  }

  close() {
    const s = this._sstate;
    if (s.closed || s.engine.closed) {
      s.closed = true;
      return;
    }
    if (s.engine.depth > 0) {
      throw new InvalidArgumentError('baton: a session cannot be closed from inside a callback of its engine', {
        status: Status.EINVALID_ARGUMENT,
        code: 'invalid_argument',
      });
    }
    s.closed = true;
    s.engine.sessions.delete(s);
    sessionFinalizer.unregister(s);
    this.engine._call(() => {
      const status = fns().baton_session_close(s.ptr);
      if (status !== Status.OK) throw fail(status, { detail: lastError(), what: 'baton: session close' });
    });
  }

  [disposeSymbol]() {
    this.close();
  }
}

// ---- Plugin -------------------------------------------------------------------

// The koffi registrations of one plugin. The trampolines reference this record
// and the engine state only, never the Engine or Plugin objects, so an engine
// dropped without close() can still be collected (its finalizer closes it).
class PluginRegistration {
  constructor(state, name, { filter, observe, destroy }) {
    this.state = state;
    this.name = name;
    this.destroyed = false;
    this.orphaned = false; // the engine closed without calling destroy (a library bug)
    this.released = false;
    this.filterPtr = null;
    this.observePtr = null;
    this.destroyPtr = null;
    const rec = this;
    try {
      if (filter) {
        const onFilter = (_userData, evPtr) => {
          let ev = null;
          try {
            ev = new BatonEvent(evPtr, 'filter');
            const verdict = filter(ev);
            if (verdict === undefined || verdict === true) return Status.OK;
            if (verdict === false) return Status.EREJECTED;
            if (Number.isInteger(verdict)) return verdict;
            throw new TypeError(
              `baton: filter ${name} returned ${typeof verdict}; return undefined/true to keep, false to reject (filters are synchronous)`,
            );
          } catch (err) {
            state.pendingErrors.push(err);
            return Status.EUSER;
          } finally {
            if (ev) ev._invalidate();
          }
        };
        this.filterPtr = koffi.register(onFilter, koffi.pointer(native.protos.filter));
      }
      if (observe) {
        const onObserve = (_userData, evPtr) => {
          let ev = null;
          try {
            ev = new BatonEvent(evPtr, 'observe');
            return observe(ev) === false ? Status.EUSER : Status.OK;
          } catch (err) {
            state.pendingErrors.push(err);
            return Status.EUSER;
          } finally {
            if (ev) ev._invalidate();
          }
        };
        this.observePtr = koffi.register(onObserve, koffi.pointer(native.protos.observe));
      }
      const onDestroy = () => {
        if (rec.destroyed) {
          state.pendingErrors.push(new Error(`baton: plugin ${name} was destroyed twice by the library`));
          return;
        }
        rec.destroyed = true;
        state.pendingRelease.push(rec);
        if (destroy) {
          try {
            destroy();
          } catch (err) {
            state.pendingErrors.push(err);
          }
        }
      };
      this.destroyPtr = koffi.register(onDestroy, koffi.pointer(native.protos.destroy));
    } catch (err) {
      // Out of koffi callback slots, for instance: give back what was taken.
      this.release();
      throw err;
    }
  }

  // Unregisters the koffi callbacks; once only.
  release() {
    if (this.released) return;
    this.released = true;
    for (const p of [this.filterPtr, this.observePtr, this.destroyPtr]) {
      if (p !== null) koffi.unregister(p);
    }
    this.filterPtr = this.observePtr = this.destroyPtr = null;
    this.state.plugins.delete(this);
  }
}

class Plugin {
  constructor(engine, name, id, registration) {
    this.engine = engine;
    this.name = name;
    this.id = id;
    this._rec = registration;
  }

  /** True once baton has called destroy. */
  get destroyed() {
    return this._rec.destroyed;
  }

  /** Removes the plugin; its destroy runs before this returns. Idempotent. */
  remove() {
    if (this._rec.destroyed || this._rec.released) return;
    const ptr = this.engine._ptr();
    this.engine._call(() => {
      const status = fns().baton_plugin_remove(ptr, this.id);
      if (status !== Status.OK) throw fail(status, { detail: lastError(), what: `baton: remove plugin ${this.name}` });
    });
  }

  [disposeSymbol]() {
    this.remove();
  }
}

module.exports = { Engine, Session, Plugin, BatonEvent, LOG_LEVELS, disposeSymbol, takeString, lastError };
