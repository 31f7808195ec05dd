import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryReplayCache } from './replay-cache.ts';

test('a nonce is fresh once, replayed until it expires, and fresh again only after', () => {
  const cache = new MemoryReplayCache();
  assert.equal(cache.checkAndRemember('n1', 2000, 1000), 'fresh');
  assert.equal(cache.checkAndRemember('n1', 2000, 1500), 'replayed');
  assert.equal(cache.checkAndRemember('n1', 2000, 1999), 'replayed');
  assert.equal(cache.checkAndRemember('n1', 3000, 2000), 'fresh');
});

test('expired entries are dropped, so the cache stays bounded by the live window', () => {
  const cache = new MemoryReplayCache({ maxEntries: 3 });
  for (const n of ['a', 'b', 'c']) assert.equal(cache.checkAndRemember(n, 1000, 0), 'fresh');
  assert.equal(cache.checkAndRemember('d', 2000, 500), 'full');
  assert.equal(cache.size, 3);
  assert.equal(cache.checkAndRemember('d', 2000, 1000), 'fresh');
  assert.equal(cache.size, 1);
});

test('when full of live nonces it refuses instead of evicting one (an evicted nonce could be replayed)', () => {
  const cache = new MemoryReplayCache({ maxEntries: 2 });
  assert.equal(cache.checkAndRemember('a', 5000, 0), 'fresh');
  assert.equal(cache.checkAndRemember('b', 1000, 0), 'fresh');
  assert.equal(cache.checkAndRemember('c', 5000, 10), 'full');
  assert.equal(cache.checkAndRemember('a', 5000, 20), 'replayed');
  // An entry that expires out of insertion order is still found by the full sweep.
  assert.equal(cache.checkAndRemember('c', 5000, 1000), 'fresh');
  assert.equal(cache.checkAndRemember('a', 5000, 1000), 'replayed');
});

test('instances do not share state, and a bad bound is refused', () => {
  const one = new MemoryReplayCache();
  const two = new MemoryReplayCache();
  assert.equal(one.checkAndRemember('x', 10, 0), 'fresh');
  assert.equal(two.checkAndRemember('x', 10, 0), 'fresh');
  assert.throws(() => new MemoryReplayCache({ maxEntries: 0 }), RangeError);
});
