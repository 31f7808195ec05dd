import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkMaskedPaths } from './masked-paths.ts';
import { manifestTree } from './manifest.ts';
import { MOUNT_POINTS, sanitizeTree } from './sanitize.ts';
import { checkTreePolicy } from './verify.ts';

// chown and mkfifo-in-place mirror what a real bootstrap leaves behind; they need root.
const skip = process.getuid?.() !== 0 ? 'needs root (chown to other users)' : false;

test('sanitizeTree brings a bootstrap-like tree to the store floor', { skip }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'airlock-sanitize-'));
  const outside = await mkdtemp(join(tmpdir(), 'airlock-outside-'));
  t.after(() => Promise.all([rm(root, { recursive: true }), rm(outside, { recursive: true })]));
  await writeFile(join(outside, 'precious'), 'keep me');
  for (const d of ['dev/pts', 'etc', 'usr/bin', 'var/cache/apt/archives', 'var/lib/apt/lists', 'var/mail', 'run/lock', 'tmp']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await symlink('/proc/self/fd', join(root, 'dev/fd'));
  await writeFile(join(root, 'dev/null'), '');
  execFileSync('mkfifo', [join(root, 'usr/fifo')]);
  await writeFile(join(root, 'usr/bin/passwd'), 'x', { mode: 0o4755 });
  await writeFile(join(root, 'usr/bin/shared'), 'x', { mode: 0o666 });
  await chown(join(root, 'var/mail'), 8, 8);
  await writeFile(join(root, 'var/cache/apt/pkgcache.bin'), 'cache');
  await writeFile(join(root, 'var/lib/apt/lists/deb.debian.org_dists'), 'lists');
  await writeFile(join(root, 'etc/machine-id'), '0123');
  // Planted symlinks must be replaced, never followed out of the tree (this runs as host root).
  await symlink(outside, join(root, 'var/log'));
  await symlink(join(outside, 'precious'), join(root, 'etc/resolv.conf'));

  const report = await sanitizeTree(root);
  assert.equal(report.devEntries, 3);
  assert.equal(report.removedSpecial, 1);
  assert.equal(await readFile(join(outside, 'precious'), 'utf8'), 'keep me');
  assert.deepEqual(await readdir(join(root, 'dev')), []);
  assert.deepEqual(await readdir(join(root, 'var/cache/apt')), []);
  assert.deepEqual(await readdir(join(root, 'var/lib/apt/lists')), []);
  await assert.rejects(lstat(join(root, 'etc/machine-id')), { code: 'ENOENT' });
  await assert.rejects(lstat(join(root, 'var/log')), { code: 'ENOENT' });
  assert.equal(await readFile(join(root, 'etc/resolv.conf'), 'utf8'), '');
  for (const dir of MOUNT_POINTS) {
    const st = await lstat(join(root, dir));
    assert.ok(st.isDirectory() && (st.mode & 0o7777) === 0o755, dir);
    assert.deepEqual(await readdir(join(root, dir)), [], dir);
  }
  assert.equal((await lstat(join(root, 'usr/bin/passwd'))).mode & 0o7777, 0o755);
  assert.equal((await lstat(join(root, 'usr/bin/shared'))).mode & 0o7777, 0o644);
  const tree = await manifestTree(root);
  assert.deepEqual(checkTreePolicy(tree.entries), []);
  checkMaskedPaths(root);
});
