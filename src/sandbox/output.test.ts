import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputCollector } from './output.ts';

test('keeps output up to the cap and signals the limit once', () => {
  let hits = 0;
  const live: string[] = [];
  const c = new OutputCollector(10, () => hits++);
  c.add('stdout', Buffer.from('hello '), (b) => live.push(b.toString()));
  c.add('stderr', Buffer.from('world!!'), (b) => live.push(b.toString()));
  c.add('stdout', Buffer.from('more'), (b) => live.push(b.toString()));
  assert.equal(hits, 1);
  assert.equal(c.overLimit, true);
  assert.equal(c.text('stdout'), 'hello ');
  assert.equal(c.text('stderr'), 'worl');
  assert.deepEqual(live, ['hello ', 'worl']);
});

test('exactly the cap is not over the limit', () => {
  let hits = 0;
  const c = new OutputCollector(4, () => hits++);
  c.add('stdout', Buffer.from('abcd'));
  assert.equal(hits, 0);
  assert.equal(c.overLimit, false);
});
