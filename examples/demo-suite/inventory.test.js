'use strict';
// Stock keeping, with a little real waiting so the workers overlap visibly.
const test = require('node:test');
const assert = require('node:assert');
const { setTimeout: sleep } = require('node:timers/promises');

class Inventory {
  constructor() { this.stock = new Map(); }
  add(sku, n) { this.stock.set(sku, (this.stock.get(sku) ?? 0) + n); }
  take(sku, n) {
    const have = this.stock.get(sku) ?? 0;
    if (have < n) throw new RangeError(`only ${have} of ${sku} left`);
    this.stock.set(sku, have - n);
  }
}

test('adds and takes stock', async () => {
  const inv = new Inventory();
  inv.add('apple', 5);
  await sleep(300);
  inv.take('apple', 2);
  assert.strictEqual(inv.stock.get('apple'), 3);
});
test('refuses to take more than there is', async () => {
  const inv = new Inventory();
  await sleep(200);
  assert.throws(() => inv.take('pear', 1), RangeError);
});
