// TypeScript declarations for the baton Node binding (index.js).

/** A JSON object, its text, or its UTF-8 bytes. */
export type JsonInput = object | string | Buffer | Uint8Array;

/** Loads libbaton (from `libraryPath`, $BATON_LIBRARY, next to the package, ../../build/, or the system loader). */
export function load(libraryPath?: string): { path: string; version: string; abiVersion: number };
/** "MAJOR.MINOR.PATCH" of the loaded library. */
export function version(): string;
/** The ABI version of the loaded library (1). */
export function abiVersion(): number;
/** The library's name for a status ("ok", "invalid", "rate_limited", ...). */
export function statusName(status: number): string;
/** Detail of the last failure on this thread; "" after a success. */
export function lastError(): string;

export const ABI_VERSION: 1;

export const Status: Readonly<{
  OK: 0;
  EINVALID_ARGUMENT: -1;
  EPARSE: -2;
  EINVALID: -3;
  EDENIED: -4;
  ERATE_LIMITED: -5;
  ECONFLICT: -6;
  ENOT_FOUND: -7;
  EREJECTED: -8;
  ESTORAGE: -9;
  ECLOSED: -10;
  EINTERNAL: -11;
  EUSER: -12;
}>;

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';
export const LogLevel: Readonly<{ debug: 0; info: 1; warn: 2; error: 3 }>;

export type ErrorCode =
  | 'invalid_argument'
  | 'parse'
  | 'invalid'
  | 'denied'
  | 'rate_limited'
  | 'conflict'
  | 'not_found'
  | 'rejected'
  | 'storage'
  | 'closed'
  | 'internal'
  | 'user';

/** The reply baton gives to a push: `{ok: true, seq}` or `{ok: false, code, error}`. */
export interface Reply {
  ok: boolean;
  seq?: number;
  dup?: boolean;
  code?: ErrorCode;
  error?: string;
  retry_after_ms?: number;
  [key: string]: unknown;
}

/** Thrown when baton refuses a call. */
export class BatonError extends Error {
  /** The string code, e.g. 'invalid', 'rate_limited'. */
  readonly code: ErrorCode | string;
  /** The C status (a negative integer). */
  readonly status: number;
  /** The parsed reply of a refused push, or the answer of a refused query; else null. */
  readonly reply: Reply | null;
  /** baton's detail for the failure (reply.error or baton_last_error()). */
  readonly detail: string;
  /** Present when the code is 'rate_limited'. */
  readonly retryAfterMs?: number;
}
export class InvalidArgumentError extends BatonError {}
export class ParseError extends BatonError {}
export class InvalidError extends BatonError {}
export class DeniedError extends BatonError {}
export class RateLimitedError extends BatonError {
  readonly retryAfterMs: number;
}
export class ConflictError extends BatonError {}
export class NotFoundError extends BatonError {}
export class RejectedError extends BatonError {}
export class StorageError extends BatonError {}
export class ClosedError extends BatonError {}
export class InternalError extends BatonError {}
export class UserError extends BatonError {}

/** An event seen by a filter, an observer or a replay. */
export class BatonEvent {
  /** The message type, e.g. "test.end". */
  readonly type: string;
  /** The global sequence number; 0 in the filter stage. */
  readonly seq: number | bigint;
  /** The event's JSON text (updated by replace()). */
  readonly json: string;
  readonly stage: 'filter' | 'observe' | 'replay';
  /** The event, parsed on first use. */
  readonly data: any;
  /** Rewrites the event; only inside a filter callback. The new JSON is validated again. */
  replace(value: JsonInput): void;
  toJSON(): { type: string; seq: number | bigint; data: any };
}

export interface PluginSpec {
  /** Return undefined/true to keep the event, false to reject it, or a status number. Synchronous. */
  filter?: (event: BatonEvent) => boolean | void | number;
  /** Runs after the event is applied. Return false to count a failure in stats. */
  observe?: (event: BatonEvent) => boolean | void;
  /** Called exactly once: on remove(), when the engine closes, or when adding fails. */
  destroy?: () => void;
}

export class Plugin {
  readonly engine: Engine;
  readonly name: string;
  /** The id baton gave the plugin. */
  readonly id: bigint;
  /** True once baton has called destroy. */
  readonly destroyed: boolean;
  /** Removes the plugin; destroy runs before this returns. Idempotent. */
  remove(): void;
  [Symbol.dispose](): void;
}

export interface ReplayFilter {
  run?: string;
  fromSeq?: number | bigint;
  types?: string[];
  /** Stop after this many events. */
  limit?: number;
}

export interface PushResult {
  status: number;
  code: ErrorCode | 'ok' | string;
  reply: Reply | null;
  detail: string;
}

export class Session {
  readonly engine: Engine;
  readonly closed: boolean;
  /** Pushes one message and returns the reply; a refusal throws a BatonError. */
  push(message: JsonInput): Reply;
  /** Pushes one message; never throws on a refusal (callback exceptions are still re-thrown). */
  pushRaw(message: JsonInput): PushResult;
  /** A query on behalf of this session's principal. */
  query(request: object | string): any;
  close(): void;
  [Symbol.dispose](): void;
}

export interface Credentials {
  client?: string;
  token?: string;
  [key: string]: unknown;
}

export interface EngineOptions {
  path?: string;
  durability?: 'full' | 'normal' | 'async';
  clock?: 'system' | 'manual';
  limits?: object;
  rate_limit?: object;
  access?: object;
  plugins?: object;
  store?: object;
  [key: string]: unknown;
}

export type Logger = (level: number, message: string, levelName: LogLevelName | string) => void;

export class Engine {
  /** Opens an engine; no options means an in-memory store. */
  constructor(options?: EngineOptions | string | null);
  readonly closed: boolean;
  session(credentials?: Credentials | string | null): Session;
  query(request: object | string): any;
  /** format: 'json' (default) | 'junit' | 'ctrf'. */
  export(run: string, format?: 'json' | 'junit' | 'ctrf' | string): string;
  /** Collects the matching events of the log, then iterates them. */
  replay(filter?: ReplayFilter): IterableIterator<BatonEvent>;
  flush(): void;
  /** Engines opened with {clock: 'manual'} only. */
  clockSet(nowMs: number | bigint | Date): void;
  /** Replaces the access configuration; null means open mode. */
  accessReload(access: object | string | null): void;
  /** Sends log lines at or above minLevel (default 'warn') to fn; null removes the logger. */
  setLogger(fn: Logger | null, minLevel?: number | LogLevelName): void;
  addPlugin(name: string, spec: PluginSpec): Plugin;
  /** Closes the sessions, flushes, destroys the plugins and closes the store. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}
