'use strict';
// Payments. "settles with the bank" is flaky on purpose: its first attempt
// fails like a timeout against a slow sandbox, and the retry passes. Run by
// `baton worker`, BATON_ATTEMPT says which attempt this is.
const test = require('node:test');
const assert = require('node:assert');
const { setTimeout: sleep } = require('node:timers/promises');

const attempt = Number(process.env.BATON_ATTEMPT || 1);

test('computes the amount in cents', () => assert.strictEqual(Math.round(19.99 * 100), 1999));
test('settles with the bank', async () => {
  await sleep(250);
  assert.ok(attempt > 1, 'the bank sandbox did not answer in time (ETIMEDOUT)');
});
