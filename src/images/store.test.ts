import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlError } from '../host/control-error.ts';
import { listImages } from './list.ts';
import { manifestTree } from './manifest.ts';
import { ImageNotFoundError, blobDir, ensureStore, storePaths } from './paths.ts';
import { commitBlob, resolveImage } from './store.ts';
import { readTag, writeTag } from './tags.ts';
import { verifyImage } from './verify.ts';

// Ownership checks require root-owned trees, which only root can create.
const skip = process.getuid?.() !== 0 ? 'needs root (the store must be root-owned)' : false;

/** Stores a tiny synthetic image as `name` in a fresh temporary stateDir. */
async function fixture(name = 'tiny'): Promise<{ stateDir: string; digest: string; rootfs: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'airlock-store-'));
  const paths = storePaths({ stateDir });
  await ensureStore(paths);
  const work = await mkdtemp(join(paths.tmp, 'build-'));
  await chmod(work, 0o755);
  const root = join(work, 'rootfs');
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'etc', 'usr/bin']) await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  await writeFile(join(root, 'etc/passwd'), 'nobody:x:65534:65534::/:/bin/sh\n', { mode: 0o644 });
  await writeFile(join(root, 'usr/bin/sh'), '#!fake\n', { mode: 0o755 });
  const tree = await manifestTree(root);
  await writeFile(join(work, 'manifest.json'), tree.bytes, { mode: 0o644 });
  await commitBlob(paths, work, tree.digest);
  await writeTag(paths, name, tree.digest);
  return { stateDir, digest: tree.digest, rootfs: join(blobDir(paths, tree.digest), 'rootfs') };
}

test('resolveImage resolves a tag and a digest', { skip }, async (t) => {
  const f = await fixture();
  t.after(() => rm(f.stateDir, { recursive: true }));
  assert.equal(readTag(storePaths(f), 'tiny'), f.digest);
  assert.deepEqual(await resolveImage(f, 'tiny'), { name: 'tiny', digest: f.digest, rootfs: f.rootfs });
  assert.deepEqual(await resolveImage(f, f.digest), { name: f.digest, digest: f.digest, rootfs: f.rootfs });
});

test('an unknown image name lists the images there are, and how to build one', { skip }, async (t) => {
  const f = await fixture();
  t.after(() => rm(f.stateDir, { recursive: true }));
  await assert.rejects(resolveImage(f, 'python'), (err: unknown) => {
    assert.ok(err instanceof ImageNotFoundError);
    assert.equal((err as Error).message, 'image: image "python" not found; the images here: tiny');
    return true;
  });
  await assert.rejects(resolveImage(f, `sha256:${'0'.repeat(64)}`), ImageNotFoundError);
  // A name is a file name under tags/: nothing path-like gets through.
  await assert.rejects(resolveImage(f, '../../etc/passwd'), /invalid image name/);
});

test('a tampered manifest.json is refused before start', { skip }, async (t) => {
  const f = await fixture();
  t.after(() => rm(f.stateDir, { recursive: true }));
  const manifest = join(blobDir(storePaths(f), f.digest), 'manifest.json');
  const text = await readFile(manifest, 'utf8');
  await writeFile(manifest, text.replace('"mode":493', '"mode":511'));
  await assert.rejects(resolveImage(f, 'tiny'), (err: unknown) => {
    assert.ok(err instanceof ControlError);
    assert.equal(err.control, 'image');
    assert.match(err.message, /tampered with; refusing to start/);
    return true;
  });
});

test('a long-running caller skips the re-hash only while the manifest file is unchanged', { skip }, async (t) => {
  const f = await fixture();
  t.after(() => rm(f.stateDir, { recursive: true }));
  const seen = new Map<string, string>();
  await resolveImage(f, 'tiny', seen);
  assert.equal(seen.size, 1, 'the verified manifest is remembered');
  const manifest = join(blobDir(storePaths(f), f.digest), 'manifest.json');
  const text = await readFile(manifest, 'utf8');
  await writeFile(manifest, text.replace('"mode":493', '"mode":511'));
  await assert.rejects(resolveImage(f, 'tiny', seen), /tampered with; refusing to start/);
});

test('T12: a poisoned rootfs (dev/null symlink) is refused at resolve', { skip }, async (t) => {
  const f = await fixture();
  t.after(() => rm(f.stateDir, { recursive: true }));
  await symlink('/proc/sys/kernel/core_pattern', join(f.rootfs, 'dev/null'));
  await assert.rejects(resolveImage(f, 'tiny'), /poisoned rootfs: \/dev\/null is a symlink/);
});

test('a group/world-writable rootfs is refused at resolve', { skip }, async (t) => {
  const f = await fixture();
  t.after(() => rm(f.stateDir, { recursive: true }));
  await chmod(f.rootfs, 0o777);
  await assert.rejects(resolveImage(f, 'tiny'), /group\/world writable/);
});

test('verifyImage passes a clean image and names changed paths', { skip }, async (t) => {
  const f = await fixture();
  t.after(() => rm(f.stateDir, { recursive: true }));
  const ok = await verifyImage(f, 'tiny');
  assert.equal(ok.ok, true, ok.differences.join('; '));
  assert.equal(ok.files, 2);
  // Content edits keep manifest.json intact: only the full re-hash finds them.
  await writeFile(join(f.rootfs, 'usr/bin/sh'), '#!evil\n');
  await writeFile(join(f.rootfs, 'etc/new'), '', { mode: 0o644 });
  await resolveImage(f, 'tiny');
  const bad = await verifyImage(f, 'tiny');
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.differences, ['etc/new: added', 'usr/bin/sh: content changed']);
});

test('listImages reports size, files and broken images', { skip }, async (t) => {
  const f = await fixture();
  t.after(() => rm(f.stateDir, { recursive: true }));
  await writeTag(storePaths(f), 'ghost', `sha256:${'1'.repeat(64)}`);
  const rows = await listImages(f);
  assert.deepEqual(
    rows.map((r) => [r.name, r.files, r.size, r.problem === null]),
    [
      ['ghost', null, null, false],
      ['tiny', 2, 39, true],
    ],
  );
});
