import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { WarmPool } from './pool.ts';
import type { PersistentSandbox } from './persistent.ts';

/**
 * The pool's own scheduling (when it starts a replacement), with sandboxes that only count how
 * they were made and ended; real sandboxes go through the pool in test/integration/service.test.ts.
 */
function counting() {
  const made: string[] = [];
  const ended: string[] = [];
  const make = async (): Promise<PersistentSandbox> => {
    const id = `sb-${made.length}`;
    made.push(id);
    return { id, onEnd: () => undefined, end: async () => void ended.push(id) } as unknown as PersistentSandbox;
  };
  return { made, ended, make };
}

async function filled(pool: WarmPool, n: number): Promise<void> {
  pool.refill();
  for (let i = 0; i < 100 && pool.readyCount < n; i++) await sleep(1);
  assert.equal(pool.readyCount, n);
}

test('a checkout does not start the replacement until its first command has finished', async () => {
  const { made, make } = counting();
  const pool = new WarmPool('k', 2, make, { pressure: () => false, refillDelayMs: 60_000 });
  await filled(pool, 2);
  assert.equal(pool.take()?.id, 'sb-0');
  await sleep(10);
  assert.deepEqual(made, ['sb-0', 'sb-1'], 'nothing built while the checkout runs its first command');
  pool.checkoutUsed();
  await filled(pool, 2);
  assert.deepEqual(made, ['sb-0', 'sb-1', 'sb-2']);
  await pool.close();
});

test('a checkout that runs nothing still gets its replacement, after the delay', async () => {
  const { made, make } = counting();
  const pool = new WarmPool('k', 1, make, { pressure: () => false, refillDelayMs: 20 });
  await filled(pool, 1);
  pool.take();
  assert.equal(pool.readyCount, 0);
  for (let i = 0; i < 200 && pool.readyCount < 1; i++) await sleep(5);
  assert.equal(pool.readyCount, 1);
  assert.deepEqual(made, ['sb-0', 'sb-1']);
  await pool.close();
});

test('closing the pool cancels a refill that was waiting', async () => {
  const { made, ended, make } = counting();
  const pool = new WarmPool('k', 2, make, { pressure: () => false, refillDelayMs: 20 });
  await filled(pool, 2);
  pool.take();
  await pool.close();
  await sleep(50);
  assert.deepEqual(made, ['sb-0', 'sb-1']);
  assert.deepEqual(ended, ['sb-1']);
});
