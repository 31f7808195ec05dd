import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../config/config.ts';
import { BASE_PACKAGES, buildImage } from './build.ts';
import { mmdebstrapArgs } from './mmdebstrap.ts';

test('mmdebstrap runs minbase in root mode, positional arguments after --', () => {
  const args = mmdebstrapArgs({ suite: 'bookworm', mirror: 'http://deb.debian.org/debian', packages: BASE_PACKAGES, target: '/s/rootfs' });
  for (const a of ['--mode=root', '--variant=minbase', '--format=directory', '--include=python3,nodejs,util-linux,ca-certificates']) {
    assert.ok(args.includes(a), a);
  }
  assert.deepEqual(args.slice(-4), ['--', 'bookworm', '/s/rootfs', 'http://deb.debian.org/debian']);
});

test('buildImage refuses option-like or malformed inputs before running anything', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'airlock-build-'));
  t.after(() => rm(stateDir, { recursive: true }));
  const config = configSchema.parse({ stateDir });
  await assert.rejects(buildImage(config, { name: '../etc' }), /invalid image name/);
  await assert.rejects(buildImage(config, { name: 'x', include: ['--customize-hook=sh'] }), /invalid package name/);
  await assert.rejects(buildImage(config, { name: 'x', suite: '--help' }), /invalid suite/);
  await assert.rejects(buildImage(config, { name: 'x', mirror: 'file:///etc' }), /mirror must be http/);
  assert.deepEqual(await readdir(stateDir), [], 'nothing was created');
});
