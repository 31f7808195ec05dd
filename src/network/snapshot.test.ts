import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDrift, readSandboxSide } from './snapshot.ts';
import { Limiter } from './limiter.ts';

test('no drift between equal snapshots; each changed facet is named with before and after', () => {
  const rule = (handle: number, expr: object[]) => ({ rule: { family: 'inet', table: 'airlock-n1', chain: 'input', handle, expr } });
  const drop = rule(4, [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'al-n1' } }, { drop: null }]);
  const before = {
    'sandbox links': 'eth0,lo',
    'host link': 'al-n1 ifindex=7 flags=0x1003',
    'firewall rules': JSON.stringify([drop]),
    // /proc/net/route: Iface Destination Gateway Flags RefCnt Use Metric Mask ...
    'host routes': 'al-n1\t0014D50A\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0',
  };
  assert.deepEqual(describeDrift(before, { ...before }), []);
  const accept = rule(7, [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 22 } }, { accept: null }]);
  const after = {
    ...before,
    'sandbox links': 'eth0,eth1,lo',
    'host link': 'al-n1 ifindex=7 flags=0x1002',
    'firewall rules': JSON.stringify([accept]),
    'host routes': '',
  };
  assert.deepEqual(describeDrift(before, after), [
    'sandbox links: eth0,lo → eth0,eth1,lo',
    'host link: al-n1 ifindex=7 flags=0x1003 → al-n1 ifindex=7 flags=0x1002',
    'firewall rules: - rule inet airlock-n1 input #4: iifname "al-n1" drop; + rule inet airlock-n1 input #7: tcp dport 22 accept',
    'host routes: - 10.213.20.0/30 dev al-n1',
  ]);
  assert.deepEqual(describeDrift(before, { ...before, 'firewall rules': 'missing' }), ["firewall rules: the sandbox's table was deleted (1 objects)"]);
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
