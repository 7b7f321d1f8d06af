'use strict';
// A shopping cart: totals, discounts and removal.
const test = require('node:test');
const assert = require('node:assert');

function total(items, discount = 0) {
  const sum = items.reduce((acc, { price, qty }) => acc + price * qty, 0);
  return Math.round(sum * (1 - discount) * 100) / 100;
}

test.describe('cart', () => {
  test('totals the items', () => assert.strictEqual(total([{ price: 2.5, qty: 2 }, { price: 1, qty: 3 }]), 8));
  test('applies a discount', () => assert.strictEqual(total([{ price: 10, qty: 1 }], 0.15), 8.5));
  test('an empty cart costs nothing', () => assert.strictEqual(total([]), 0));
});
