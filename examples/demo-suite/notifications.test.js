'use strict';
// Notification templates.
const test = require('node:test');
const assert = require('node:assert');
const { setTimeout: sleep } = require('node:timers/promises');

const render = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? `{${k}}`);

test('fills in values', () => assert.strictEqual(render('Hi {name}!', { name: 'Ada' }), 'Hi Ada!'));
test('leaves unknown placeholders', async () => {
  await sleep(150);
  assert.strictEqual(render('{x} and {y}', { x: 1 }), '1 and {y}');
});
