'use strict';
// Date helpers.
const test = require('node:test');
const assert = require('node:assert');

const addDays = (date, n) => new Date(date.getTime() + n * 86400000);
const isoDay = (date) => date.toISOString().slice(0, 10);

test('adds days across a month end', () => assert.strictEqual(isoDay(addDays(new Date('2026-01-30T00:00:00Z'), 3)), '2026-02-02'));
test('handles leap years', () => assert.strictEqual(isoDay(addDays(new Date('2028-02-28T00:00:00Z'), 1)), '2028-02-29'));
