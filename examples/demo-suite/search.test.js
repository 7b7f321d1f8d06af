'use strict';
// Search: tokenizing and ranking.
const test = require('node:test');
const assert = require('node:assert');
const { setTimeout: sleep } = require('node:timers/promises');

const tokenize = (text) => text.toLowerCase().split(/\W+/).filter(Boolean);
const rank = (docs, query) => docs
  .map((d) => ({ d, score: tokenize(d).filter((t) => tokenize(query).includes(t)).length }))
  .filter((r) => r.score > 0)
  .sort((a, b) => b.score - a.score)
  .map((r) => r.d);

test('tokenizes words', () => assert.deepStrictEqual(tokenize('Red, green-BLUE!'), ['red', 'green', 'blue']));
test('ranks by matching words', async () => {
  await sleep(400);
  assert.deepStrictEqual(rank(['red apple', 'green apple pie', 'blue'], 'green apple'), ['green apple pie', 'red apple']);
});
test('finds nothing for an unknown word', () => assert.deepStrictEqual(rank(['a b'], 'zebra'), []));
