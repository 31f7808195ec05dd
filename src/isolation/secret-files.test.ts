import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SandboxSpec, SecretFile } from './driver.ts';
import { ControlError } from '../host/control-error.ts';
import { checkSecretFiles, secretsTmpfsBytes } from './secret-files.ts';
import { buildBwrapArgs } from './namespace/bwrap-args.ts';
import { buildOciSpec } from './gvisor/oci-spec.ts';
import { mountPoints } from './gvisor/rootfs.ts';
import { DEFAULT_PROFILE, toOciSeccomp } from './seccomp/index.ts';

const VALUE = 'sk-unit-0123456789abcdef';
const secret = (name: string, value = VALUE): SecretFile => ({ name, bytes: () => Buffer.from(value) });
const spec: SandboxSpec = {
  id: 'x-1',
  image: { name: 'default', digest: `sha256:${'a'.repeat(64)}`, rootfs: '/var/lib/airlock/images/blobs/sha256/aa/rootfs' },
  limits: { memoryMb: 512, cpuCores: 0.5, pids: 64, timeoutSeconds: 10, scratchMb: 32, outputBytes: 1024, openFiles: 256 },
  env: { PATH: '/usr/bin:/bin' },
  mounts: [],
  workdir: '/tmp',
  network: { kind: 'isolated' },
  secrets: [secret('openai_key'), secret('db_pass', 'x'.repeat(5000))],
};

test('names are refused unless exactly the secret-name shape, and never twice', () => {
  for (const name of ['', '../x', 'a/b', 'A', '.x', 'x'.repeat(57), 'a\0b']) {
    assert.throws(() => checkSecretFiles([secret(name)]), ControlError, JSON.stringify(name));
  }
  assert.throws(() => checkSecretFiles([secret('a_key'), secret('a_key')]), /secret a_key: is given twice/);
  checkSecretFiles(spec.secrets ?? []);
});

test('the secrets tmpfs holds exactly the files: each rounded to pages, one page of slack', () => {
  assert.equal(secretsTmpfsBytes(spec.secrets ?? []), 4096 + 4096 + 2 * 4096);
});

test('bwrap: a tmpfs of its own at /run/secrets, each value copied from its fd into a 0400 file, then read-only, before /run is', () => {
  const args = buildBwrapArgs({ spec, command: ['true'], mountFds: [], secretFds: [9, 10], procMasks: [] });
  const at = args.indexOf('/run/secrets');
  assert.deepEqual(args.slice(at - 5, at + 1), ['--size', String(4 * 4096), '--perms', '0500', '--tmpfs', '/run/secrets']);
  assert.deepEqual(args.slice(at + 1, at + 13), ['--perms', '0400', '--file', '9', '/run/secrets/openai_key', '--perms', '0400', '--file', '10', '/run/secrets/db_pass', '--remount-ro', '/run/secrets']);
  assert.ok(args.indexOf('/run/secrets') < args.lastIndexOf('/run'), 'placed before /run is made read-only');
  assert.ok(!args.join('\0').includes(VALUE), 'no value in the argv');
  assert.throws(() => buildBwrapArgs({ spec, command: ['true'], mountFds: [], secretFds: [9], procMasks: [] }), /no fd for secret db_pass/);
  assert.ok(!buildBwrapArgs({ spec: { ...spec, secrets: [] }, command: ['true'], mountFds: [], procMasks: [] }).includes('/run/secrets'));
});

test('gVisor: the host secrets tmpfs is bound read-only, noexec at /run/secrets; no values in the spec; missing tmpfs fails closed', () => {
  const host = { rootfs: '/r/root', scratchDir: '/r/scratch', emptyFile: '/r/e', emptyDir: '/r/d', mountSources: [], cgroupsPath: '/a/x', hostPidsMax: 100 };
  const seccomp = toOciSeccomp(DEFAULT_PROFILE, 'x86_64');
  const oci = buildOciSpec(spec, { argv: ['true'], stdin: false }, seccomp, { ...host, secretsDir: '/r/secrets' });
  assert.deepEqual(oci.mounts.find((m) => m.destination === '/run/secrets'), { destination: '/run/secrets', type: 'bind', source: '/r/secrets', options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] });
  assert.ok(!JSON.stringify(oci).includes(VALUE));
  assert.throws(() => buildOciSpec(spec, { argv: ['true'], stdin: false }, seccomp, host), /secrets: the sandbox has secrets but no secrets tmpfs was made/);
  assert.ok(mountPoints(spec, []).some((p) => p.path === '/run/secrets' && p.kind === 'dir'));
  assert.ok(!mountPoints({ ...spec, secrets: [] }, []).some((p) => p.path === '/run/secrets'));
});
