import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDrift, readSandboxSide } from './snapshot.ts';
import { Limiter } from './limiter.ts';

test('no drift between equal snapshots; each changed facet is named', () => {
  const before = { 'sandbox links': 'eth0,lo', 'host link': 'ifindex=7 flags=0x1003', 'firewall rules': '[1]', 'host routes': 'al-n1\t0014D50A' };
  assert.deepEqual(describeDrift(before, { ...before }), []);
  const after = { ...before, 'sandbox links': 'eth0,eth1,lo', 'firewall rules': 'missing', 'host routes': '' };
  const changes = describeDrift(before, after);
  assert.equal(changes.length, 3);
  assert.match(changes[0] ?? '', /sandbox links: was \[eth0,lo\], now \[eth0,eth1,lo\]/);
  assert.match(changes[1] ?? '', /firewall rules: removed/);
  assert.match(changes[2] ?? '', /host routes: changed \(- al-n1 0014D50A\)/);
});

test('the sandbox side of this process lists its links without counters', async () => {
  const snap = await readSandboxSide(process.pid);
  assert.ok(snap !== undefined);
  assert.ok((snap['sandbox links'] ?? '').split(',').includes('lo'));
  assert.ok(Object.keys(snap).length > 1);
  assert.deepEqual(Object.keys((await readSandboxSide(process.pid, true)) ?? {}), ['sandbox links']);
  assert.deepEqual(await readSandboxSide(2 ** 22 + 1), undefined, 'a process that is gone is not drift');
});

test('the limiter never runs more than its bound at once', async () => {
  const limiter = new Limiter(2);
  let active = 0;
  let peak = 0;
  await Promise.all(Array.from({ length: 8 }, () => limiter.run(async () => {
    active++;
    peak = Math.max(peak, active);
    await new Promise((r) => setTimeout(r, 5));
    active--;
  })));
  assert.equal(peak, 2);
});
