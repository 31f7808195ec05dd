import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlError } from '../host/control-error.ts';
import { checkMaskedPaths } from './masked-paths.ts';

/** A small clean rootfs: empty dev/, plain mount points, regular etc files. */
async function cleanRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'airlock-masked-'));
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'run', 'home', 'work', 'var/tmp', 'etc']) {
    await mkdir(join(root, d), { recursive: true });
  }
  for (const f of ['etc/passwd', 'etc/group', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf']) {
    await writeFile(join(root, f), '');
  }
  return root;
}

function refused(root: string, pattern: RegExp): void {
  assert.throws(() => checkMaskedPaths(root), (err: unknown) => {
    assert.ok(err instanceof ControlError);
    assert.equal(err.control, 'image');
    assert.match(err.message, pattern);
    assert.match(err.message, /refusing to start/);
    return true;
  });
}

test('a clean tree passes', async (t) => {
  const root = await cleanRoot();
  t.after(() => rm(root, { recursive: true }));
  checkMaskedPaths(root);
});

test('absent optional paths pass (a tree without etc files or mount points)', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'airlock-masked-'));
  t.after(() => rm(root, { recursive: true }));
  checkMaskedPaths(root);
});

test('T12: dev/null as a symlink is refused', async (t) => {
  const root = await cleanRoot();
  t.after(() => rm(root, { recursive: true }));
  await symlink('/proc/sys/kernel/core_pattern', join(root, 'dev/null'));
  refused(root, /\/dev\/null is a symlink/);
});

test('T12: dev/null as a regular file is refused too (the runtime supplies device files)', async (t) => {
  const root = await cleanRoot();
  t.after(() => rm(root, { recursive: true }));
  await writeFile(join(root, 'dev/null'), '');
  refused(root, /\/dev\/null is a regular file/);
});

test('T12: dev itself as a symlink is refused', async (t) => {
  const root = await cleanRoot();
  t.after(() => rm(root, { recursive: true }));
  await rm(join(root, 'dev'), { recursive: true });
  await symlink('/dev', join(root, 'dev'));
  refused(root, /\/dev is a symlink/);
});

test('T12: a symlinked parent (var -> /var) is refused for var/tmp', async (t) => {
  const root = await cleanRoot();
  t.after(() => rm(root, { recursive: true }));
  await rm(join(root, 'var'), { recursive: true });
  await symlink('/var', join(root, 'var'));
  refused(root, /\/var is a symlink, but \/var\/tmp lies under it/);
});

test('T12: symlinked etc/resolv.conf, proc, tmp and dev/pts are refused', async (t) => {
  const cases: [string, RegExp][] = [
    ['etc/resolv.conf', /\/etc\/resolv.conf is a symlink/],
    ['etc/passwd', /\/etc\/passwd is a symlink/],
    ['proc', /\/proc is a symlink/],
    ['tmp', /\/tmp is a symlink/],
  ];
  for (const [path, pattern] of cases) {
    const root = await cleanRoot();
    t.after(() => rm(root, { recursive: true }));
    await rm(join(root, path), { recursive: true });
    await symlink('/etc/shadow', join(root, path));
    refused(root, pattern);
  }
  const root = await cleanRoot();
  t.after(() => rm(root, { recursive: true }));
  await symlink('/dev/pts', join(root, 'dev/pts'));
  refused(root, /\/dev\/pts is a symlink/);
});

test('T12: a mount point that is a file is refused', async (t) => {
  const root = await cleanRoot();
  t.after(() => rm(root, { recursive: true }));
  await rm(join(root, 'sys'), { recursive: true });
  await writeFile(join(root, 'sys'), '');
  refused(root, /\/sys is a regular file, not a plain directory/);
});

test('T12: the image root itself as a symlink is refused', async (t) => {
  const root = await cleanRoot();
  const parent = await mkdtemp(join(tmpdir(), 'airlock-masked-'));
  t.after(() => Promise.all([rm(root, { recursive: true }), rm(parent, { recursive: true })]));
  await symlink(root, join(parent, 'rootfs'));
  refused(join(parent, 'rootfs'), /image root .* is a symlink/);
});
