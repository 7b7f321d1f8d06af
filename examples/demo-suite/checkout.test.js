'use strict';
// Checkout rules. One test fails on purpose: the demo shows how a real
// failure looks in the console, the JUnit, the CTRF and the HTML report.
const test = require('node:test');
const assert = require('node:assert');

function shippingCost(weightKg, country) {
  if (country === 'domestic') return weightKg <= 2 ? 4.9 : 9.9;
  return 19.9; // the rule for heavy international parcels is not written yet
}

test('domestic light parcels ship for 4.90', () => assert.strictEqual(shippingCost(1, 'domestic'), 4.9));
test('domestic heavy parcels ship for 9.90', () => assert.strictEqual(shippingCost(5, 'domestic'), 9.9));
test('international heavy parcels ship for 39.90', () => {
  assert.strictEqual(shippingCost(12, 'international'), 39.9, 'heavy international parcels are underpriced');
});
