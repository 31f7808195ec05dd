import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestTree } from './manifest.ts';
import { blobDir, ensureStore, storePaths } from './paths.ts';
import { commitBlob, resolveImage } from './store.ts';
import { writeTag } from './tags.ts';
import { imageStampDirOf, rememberedManifestStamps } from './verified-manifests.ts';

// The store and the stamp file must be root's: only root can create either.
const skip = process.getuid?.() !== 0 ? 'needs root (the store and the stamps must be root-owned)' : false;

/** A tiny synthetic image stored as `tiny` in a fresh temporary stateDir. */
async function fixture(t: { after: (fn: () => Promise<void>) => void }): Promise<{ stateDir: string; digest: string; manifest: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'airlock-verified-'));
  t.after(() => rm(stateDir, { recursive: true, force: true }));
  const paths = storePaths({ stateDir });
  await ensureStore(paths);
  const work = await mkdtemp(join(paths.tmp, 'build-'));
  await chmod(work, 0o755);
  const root = join(work, 'rootfs');
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'etc', 'usr/bin']) await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  await writeFile(join(root, 'usr/bin/sh'), '#!fake\n', { mode: 0o755 });
  const tree = await manifestTree(root);
  await writeFile(join(work, 'manifest.json'), tree.bytes, { mode: 0o644 });
  await commitBlob(paths, work, tree.digest);
  await writeTag(paths, 'tiny', tree.digest);
  return { stateDir, digest: tree.digest, manifest: join(blobDir(paths, tree.digest), 'manifest.json') };
}

const stampOf = async (path: string) => {
  const st = await lstat(path, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
};

test('a verified manifest is remembered in a private root file, and the next run finds it', { skip }, async (t) => {
  const f = await fixture(t);
  await resolveImage(f, 'tiny', await rememberedManifestStamps(f));
  const dir = imageStampDirOf(f);
  assert.equal((await lstat(dir)).mode & 0o777, 0o700);
  assert.equal((await lstat(join(dir, 'verified-manifests.json'))).mode & 0o777, 0o600);
  const next = await rememberedManifestStamps(f);
  assert.equal(next.get(f.digest), await stampOf(f.manifest));
});

test('a manifest changed after it was remembered is hashed again and refused', { skip }, async (t) => {
  const f = await fixture(t);
  await resolveImage(f, 'tiny', await rememberedManifestStamps(f));
  const text = await readFile(f.manifest, 'utf8');
  await writeFile(f.manifest, text.replace('"mode":493', '"mode":511'));
  await assert.rejects(resolveImage(f, 'tiny', await rememberedManifestStamps(f)), /tampered with; refusing to start/);
});

test('a stamp file that is not private, or holds a malformed entry, is ignored', { skip }, async (t) => {
  const f = await fixture(t);
  await resolveImage(f, 'tiny', await rememberedManifestStamps(f));
  const file = join(imageStampDirOf(f), 'verified-manifests.json');
  const good = await readFile(file, 'utf8');
  await chmod(file, 0o644);
  assert.equal((await rememberedManifestStamps(f)).get(f.digest), undefined, 'a file others may read is not trusted');
  await chmod(file, 0o600);
  assert.equal((await rememberedManifestStamps(f)).get(f.digest), await stampOf(f.manifest));
  await writeFile(file, JSON.stringify([...JSON.parse(good), ['sha256:x', '1:2:3:4:5']]));
  assert.equal((await rememberedManifestStamps(f)).get(f.digest), undefined, 'one bad entry discredits the file');
  await writeFile(file, good);
  await chmod(imageStampDirOf(f), 0o755);
  assert.equal((await rememberedManifestStamps(f)).get(f.digest), undefined, 'a directory others may read is not trusted');
});
