import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdleTimer } from './idle.ts';

describe('IdleTimer', () => {
  it('expires after the idle time without activity; an operation starts it again', () => {
    const idle = new IdleTimer(10, 1_000);
    assert.equal(idle.expired(10_999), false);
    assert.equal(idle.expired(11_000), true);
    idle.touch(11_000);
    assert.equal(idle.expired(20_999), false);
    assert.equal(idle.expired(21_000), true);
  });

  it('never expires while an exec runs; its end starts the idle time again', async () => {
    const idle = new IdleTimer(0.001);
    let finish: () => void = () => undefined;
    idle.hold(new Promise<void>((resolve) => (finish = resolve)));
    assert.equal(idle.expired(Date.now() + 60_000), false);
    finish();
    await new Promise((resolve) => setImmediate(resolve));
    const ended = Date.now();
    assert.equal(idle.expired(ended + 60_000), true);
    // A failed exec releases it too.
    idle.hold(Promise.reject(new Error('exec failed')));
    assert.equal(idle.expired(Date.now() + 60_000), false);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(idle.expired(Date.now() + 60_000), true);
  });
});
