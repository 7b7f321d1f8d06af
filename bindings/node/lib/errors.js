'use strict';
// Status codes of the C ABI and the Error classes they map to.

const Status = Object.freeze({
  OK: 0,
  EINVALID_ARGUMENT: -1,
  EPARSE: -2,
  EINVALID: -3,
  EDENIED: -4,
  ERATE_LIMITED: -5,
  ECONFLICT: -6,
  ENOT_FOUND: -7,
  EREJECTED: -8,
  ESTORAGE: -9,
  ECLOSED: -10,
  EINTERNAL: -11,
  EUSER: -12,
});

// The string codes are the wire contract (EVENTS.md) and match baton_status_name().
const CODES = new Map([
  [0, 'ok'],
  [-1, 'invalid_argument'],
  [-2, 'parse'],
  [-3, 'invalid'],
  [-4, 'denied'],
  [-5, 'rate_limited'],
  [-6, 'conflict'],
  [-7, 'not_found'],
  [-8, 'rejected'],
  [-9, 'storage'],
  [-10, 'closed'],
  [-11, 'internal'],
  [-12, 'user'],
]);

class BatonError extends Error {
  /**
   * @param {string} message
   * @param {{status: number, code: string, reply?: object|null, detail?: string}} info
   */
  constructor(message, info) {
    super(message);
    this.name = new.target.name;
    this.status = info.status;
    this.code = info.code;
    this.reply = info.reply ?? null;
    this.detail = info.detail ?? '';
    if (this.reply && typeof this.reply.retry_after_ms === 'number') {
      this.retryAfterMs = this.reply.retry_after_ms;
    }
  }
}

class InvalidArgumentError extends BatonError {}
class ParseError extends BatonError {}
class InvalidError extends BatonError {}
class DeniedError extends BatonError {}
class RateLimitedError extends BatonError {}
class ConflictError extends BatonError {}
class NotFoundError extends BatonError {}
class RejectedError extends BatonError {}
class StorageError extends BatonError {}
class ClosedError extends BatonError {}
class InternalError extends BatonError {}
class UserError extends BatonError {}

const CLASSES = new Map([
  [-1, InvalidArgumentError],
  [-2, ParseError],
  [-3, InvalidError],
  [-4, DeniedError],
  [-5, RateLimitedError],
  [-6, ConflictError],
  [-7, NotFoundError],
  [-8, RejectedError],
  [-9, StorageError],
  [-10, ClosedError],
  [-11, InternalError],
  [-12, UserError],
]);

/**
 * Builds the Error for a refused call.
 * @param {number} status the C status
 * @param {{reply?: object|null, detail?: string, nameOf?: (s:number)=>string, what?: string}} ctx
 */
function errorFor(status, ctx = {}) {
  const reply = ctx.reply ?? null;
  let code = CODES.get(status);
  if (code === undefined) code = (reply && typeof reply.code === 'string' && reply.code) || (ctx.nameOf ? ctx.nameOf(status) : 'unknown');
  const detail = (reply && typeof reply.error === 'string' && reply.error) || ctx.detail || '';
  const prefix = ctx.what ? `${ctx.what}: ` : '';
  const message = `${prefix}${code}${detail ? `: ${detail}` : ''}`;
  const Cls = CLASSES.get(status) ?? BatonError;
  return new Cls(message, { status, code, reply, detail });
}

function codeOf(status) {
  return CODES.get(status);
}

module.exports = {
  Status,
  codeOf,
  errorFor,
  BatonError,
  InvalidArgumentError,
  ParseError,
  InvalidError,
  DeniedError,
  RateLimitedError,
  ConflictError,
  NotFoundError,
  RejectedError,
  StorageError,
  ClosedError,
  InternalError,
  UserError,
};
