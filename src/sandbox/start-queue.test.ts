import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartQueue } from './start-queue.ts';

test('at most `concurrency` turns are held; the rest wait in order', async () => {
  const queue = new StartQueue(2);
  const order: number[] = [];
  const ends = await Promise.all([queue.turn(), queue.turn()]);
  const third = queue.turn().then((end) => {
    order.push(3);
    return end;
  });
  const fourth = queue.turn().then((end) => {
    order.push(4);
    return end;
  });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual([queue.active, queue.waiting, order], [2, 2, []]);
  ends[0]?.();
  ends[0]?.(); // Ending a turn twice frees one slot, not two.
  const endThird = await third;
  assert.deepEqual([queue.active, queue.waiting, order], [2, 1, [3]]);
  ends[1]?.();
  (await fourth)();
  endThird();
  assert.deepEqual([queue.active, queue.waiting, order], [0, 0, [3, 4]]);
});

test('a turn begins in a later macrotask: work queued on the loop runs before it', async () => {
  const queue = new StartQueue(4);
  let timerRan = false;
  setImmediate(() => (timerRan = true));
  const end = await queue.turn();
  assert.equal(timerRan, true);
  end();
});

test('refuses a concurrency that is not a positive whole number', () => {
  assert.throws(() => new StartQueue(0), RangeError);
  assert.throws(() => new StartQueue(1.5), RangeError);
});
