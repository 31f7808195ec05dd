import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG } from '../config/config.ts';
import { ApiError } from './errors.ts';
import { checkPath, checkPolicyPin, commandOf, decodeStdin, toLimits, toMounts, DEFAULT_DENIED_HOST_PREFIXES } from './request-mapping.ts';

const policy = { defaults: DEFAULT_CONFIG.defaults, maxima: DEFAULT_CONFIG.maxima, deniedHostPrefixes: DEFAULT_DENIED_HOST_PREFIXES };
const refused = (fn: () => unknown, status: number, code: string) =>
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.status === status && e.code === code);

describe('request mapping', () => {
  it('checkPath: absolute, no NUL, no .., trailing slashes dropped', () => {
    assert.equal(checkPath('p', '/tmp/x/'), '/tmp/x');
    assert.equal(checkPath('p', '/'), '/');
    assert.equal(checkPath('p', '//'), '/');
    assert.equal(checkPath('p', '/a/..b/c'), '/a/..b/c');
    for (const bad of ['', 'tmp', './x', '/a/../b', '/..', '/a\0b', `/${'x'.repeat(5000)}`]) refused(() => checkPath('p', bad), 400, 'invalid_path');
  });

  it('toLimits: only requested fields, refused (never clamped) above the maximum', () => {
    assert.deepEqual(toLimits({ memory_limit_mb: 128 }, 'body.', policy), { memoryMb: 128 });
    assert.deepEqual(toLimits(undefined, 'body.', policy), {});
    assert.throws(() => toLimits({ cpu_limit: 3 }, 'body.limits.', policy), /body\.limits\.cpu_limit: 3 exceeds the maximum of 2/);
  });

  it('toMounts: bare paths read-only at the same place; objects as given', async () => {
    assert.deepEqual(await toMounts(['/usr/share/'], 'f', policy), [{ hostPath: '/usr/share', sandboxPath: '/usr/share', writable: false }]);
    assert.deepEqual(await toMounts([{ host_path: '/usr/share', sandbox_path: '/data', mode: 'rw' }], 'f', policy), [{ hostPath: '/usr/share', sandboxPath: '/data', writable: true }]);
    await assert.rejects(toMounts(['/dev/kvm'], 'f', policy), /under \/dev/);
    await assert.rejects(toMounts(['/dev/kvm'], 'f', policy), (e: unknown) => e instanceof ApiError && e.status === 403 && e.code === 'filesystem_access_refused');
    await assert.rejects(toMounts([{ host_path: '/usr', sandbox_path: '/' }], 'f', policy), /managed by the runtime/);
  });

  it('toMounts: a host path that may not be granted is 403 filesystem_access_refused (as the drivers answer); a malformed one stays 400', async () => {
    const refusedGrant = (e: unknown) => e instanceof ApiError && e.status === 403 && e.code === 'filesystem_access_refused' && /^filesystem_access: f\[0\]: /.test(e.message);
    for (const path of ['/', '/proc', '/proc/1/root', '/sys/kernel', '/run/docker.sock', '/var/run/x', '/boot']) {
      await assert.rejects(toMounts([path], 'f', policy), refusedGrant, path);
    }
    await assert.rejects(toMounts(['/opt'], 'f', { ...policy, allowedHostPrefixes: ['/srv'] }), refusedGrant);
    for (const path of ['relative', '/a/../proc', '/a\0b']) {
      await assert.rejects(toMounts([path], 'f', policy), (e: unknown) => e instanceof ApiError && e.status === 400 && e.code === 'invalid_path', path);
    }
    // A sandbox-side target the runtime owns is a malformed request, not a refused host path.
    await assert.rejects(toMounts([{ host_path: '/opt', sandbox_path: '/proc/x' }], 'f', policy), (e: unknown) => e instanceof ApiError && e.code === 'invalid_path');
  });

  it('toMounts: a symlink is passed on as written, never resolved (the driver refuses links; resolving as root would reveal what exists)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-map-'));
    try {
      await symlink('/proc/self', join(dir, 'link'));
      assert.deepEqual(await toMounts([join(dir, 'link')], 'f', policy), [{ hostPath: join(dir, 'link'), sandboxPath: join(dir, 'link'), writable: false }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('checkPolicyPin: none → undefined, same → pin, different → 409', () => {
    const active = `sha256:${'1'.repeat(64)}`;
    assert.equal(checkPolicyPin({}, undefined, active), undefined);
    assert.equal(checkPolicyPin({ 'x-airlock-policy-hash': active }, undefined, active), active);
    refused(() => checkPolicyPin({}, `sha256:${'2'.repeat(64)}`, active), 409, 'policy_mismatch');
    refused(() => checkPolicyPin({ 'x-airlock-policy-hash': [active, active] }, undefined, active), 400, 'invalid_request');
  });

  it('commandOf and decodeStdin', () => {
    assert.deepEqual(commandOf({ code: 'x' }), { code: 'x', language: 'python' });
    assert.deepEqual(commandOf({ command: ['ls'] }), { command: ['ls'] });
    refused(() => commandOf({}), 400, 'invalid_request');
    assert.deepEqual(decodeStdin('aGk=', 'base64'), Buffer.from('hi'));
    assert.deepEqual(decodeStdin('hi', undefined), Buffer.from('hi'));
    refused(() => decodeStdin('not base64!', 'base64'), 400, 'invalid_request');
  });
});
