import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema } from '../config/config.ts';
import { existsSync } from 'node:fs';
import { checkStatus, configuredRuntimes, microvmNetworkCheck } from './doctor-checks.ts';
import { describeSandboxStates } from './doctor-sandboxes.ts';

describe('doctor levels', () => {
  it('FAIL only for a required check; warn and info say what they are', () => {
    assert.equal(checkStatus({ name: 'x', ok: true, detail: '', level: 'info' }), 'ok');
    assert.equal(checkStatus({ name: 'x', ok: false, detail: '' }), 'FAIL');
    assert.equal(checkStatus({ name: 'x', ok: false, detail: '', level: 'required' }), 'FAIL');
    assert.equal(checkStatus({ name: 'x', ok: false, detail: '', level: 'warn' }), 'warn');
    assert.equal(checkStatus({ name: 'x', ok: false, detail: '', level: 'info' }), 'info');
  });

  it('a runtime is used by the configuration when it is the default or a pool runs it', () => {
    const base = configSchema.parse({});
    assert.deepEqual([...configuredRuntimes({ ...base, service: { ...base.service, pools: [] } })], ['namespace']);
    const pools = [{ runtime: 'gvisor' as const, image: 'default', size: 1, limits: {} }];
    assert.deepEqual([...configuredRuntimes({ ...base, service: { ...base.service, pools } })].sort(), ['gvisor', 'namespace']);
  });

  it('sandbox state: live sandboxes by controller, then what dead ones left', () => {
    assert.equal(describeSandboxStates({ live: [], stale: [] }, 0), 'nothing left by sandboxes');
    const stale = [{ id: 's-1', runtime: 'namespace', ownerPid: 7, ownerStart: 'x', createdAt: '', extra: {} }];
    assert.equal(
      describeSandboxStates({ live: [{ pid: 42, command: 'airlock serve', ids: ['s-2', 's-3'] }], stale }, 5),
      '2 live of controller pid 42 (airlock serve); 1 left by dead controllers (pid 7: s-1): airlock doctor --reap releases them; 5 cgroups, uid leases, processes or network slots of them',
    );
    assert.match(describeSandboxStates({ live: [], stale: [] }, 3), /^3 cgroups, uid leases, processes or network slots with no ownership record/);
  });

  it('microvm network: a bridge and a tap are made in a namespace of their own, leaving nothing on the host', { skip: process.getuid?.() !== 0 ? 'needs root (it makes a network namespace)' : false }, async () => {
    const check = await microvmNetworkCheck(new Set(['namespace']));
    assert.equal(check.ok, true, check.detail);
    assert.equal(check.level, 'info', 'info while no configured runtime is microvm');
    assert.equal((await microvmNetworkCheck(new Set(['microvm']))).level, 'warn');
    assert.equal(existsSync('/sys/class/net/airlock-probe'), false);
    assert.equal(existsSync('/sys/class/net/airlock-probe-t'), false);
  });
});
