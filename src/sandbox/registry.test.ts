/**
 * The registry's running set and ended list: the count, the list and the forgetting of old ends
 * are kept as sandboxes stop, never found by walking every record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentSandbox } from './persistent.ts';
import type { EndReason } from './service-types.ts';
import { SandboxRegistry, type RecordFields } from './registry.ts';

/** The part of a PersistentSandbox the registry uses: an id, its end reason and the two end hooks. */
class FakeSandbox {
  readonly id: string;
  endReason: EndReason | undefined;
  private readonly ending: ((reason: EndReason) => void)[] = [];
  private readonly ended: ((reason: EndReason) => void)[] = [];

  constructor(id: string, endReason?: EndReason) {
    this.id = id;
    this.endReason = endReason;
  }

  onEnding(listener: (reason: EndReason) => void): void {
    if (this.endReason === undefined) this.ending.push(listener);
  }

  onEnd(listener: (reason: EndReason) => void): void {
    this.ended.push(listener);
  }

  /** Stops (what `end()` does at once), then completes the teardown when `torn` is true. */
  stop(reason: EndReason, torn = true): void {
    this.endReason = reason;
    for (const l of this.ending.splice(0)) l(reason);
    if (torn) this.finish();
  }

  finish(): void {
    for (const l of this.ended) l(this.endReason ?? 'killed');
  }
}

const FIELDS: RecordFields = { runtime: 'namespace', imageName: 'tiny', metadata: {}, env: {}, agentId: 'a', mounts: [], pooled: false, services: [], ttlSeconds: 60 };

function add(registry: SandboxRegistry, sandbox: FakeSandbox): void {
  registry.add(sandbox as unknown as PersistentSandbox, FIELDS);
}

test('a sandbox leaves the running set when it stops, before its teardown ends', () => {
  const registry = new SandboxRegistry();
  const sandboxes = Array.from({ length: 5 }, (_, i) => new FakeSandbox(`s-${i}`));
  for (const s of sandboxes) add(registry, s);
  assert.equal(registry.runningCount, 5);
  sandboxes[1]?.stop('killed', false);
  // Stopping, not yet torn down: no longer running, still findable.
  assert.equal(registry.runningCount, 4);
  assert.deepEqual(registry.running().map((r) => r.sandbox.id), ['s-0', 's-2', 's-3', 's-4']);
  assert.equal(registry.find('s-1')?.endedAt, undefined);
  sandboxes[1]?.finish();
  assert.notEqual(registry.find('s-1')?.endedAt, undefined);
  // Stopping twice counts once.
  sandboxes[1]?.stop('killed');
  assert.equal(registry.runningCount, 4);
});

test('a sandbox that stopped before it was registered is never counted as running', () => {
  const registry = new SandboxRegistry();
  add(registry, new FakeSandbox('s-early', 'killed'));
  assert.equal(registry.runningCount, 0);
  assert.deepEqual(registry.running(), []);
  assert.equal(registry.all().length, 1);
});

test('forgetOld drops ended records past the retention window, oldest first, and keeps the running', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 0 });
  const registry = new SandboxRegistry();
  const old = new FakeSandbox('s-old');
  const recent = new FakeSandbox('s-recent');
  const live = new FakeSandbox('s-live');
  for (const s of [old, recent, live]) add(registry, s);
  old.stop('killed');
  t.mock.timers.setTime(9 * 60 * 1000);
  recent.stop('ttl_expired');
  // 10 minutes and 1 ms after the first end: only it is past the window.
  registry.forgetOld(10 * 60 * 1000 + 1);
  assert.equal(registry.find('s-old'), undefined);
  assert.notEqual(registry.find('s-recent'), undefined);
  assert.notEqual(registry.find('s-live'), undefined);
  registry.forgetOld(20 * 60 * 1000);
  assert.equal(registry.find('s-recent'), undefined);
  assert.deepEqual(registry.all().map((r) => r.sandbox.id), ['s-live']);
});

test('forgetOld keeps at most 1,000 ended records, dropping the oldest ends', () => {
  const registry = new SandboxRegistry();
  const sandboxes = Array.from({ length: 1003 }, (_, i) => new FakeSandbox(`s-${i}`));
  for (const s of sandboxes) add(registry, s);
  for (const s of sandboxes) s.stop('killed');
  registry.forgetOld(Date.now());
  assert.equal(registry.all().length, 1000);
  for (const id of ['s-0', 's-1', 's-2']) assert.equal(registry.find(id), undefined, id);
  assert.notEqual(registry.find('s-3'), undefined);
});
