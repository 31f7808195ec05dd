/** A tiny real image store for the signature and policy tests (root-owned, as the store must be). */
import type { TestContext } from 'node:test';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestTree } from '../manifest.ts';
import { ensureStore, storePaths } from '../paths.ts';
import { commitBlob } from '../store.ts';
import { writeTag } from '../tags.ts';

/** Why these tests can't run here, or false. */
export const storeSkip = process.getuid?.() !== 0 ? 'needs root (the image store must be root-owned)' : false;

/**
 * A state directory with one tiny image tagged `name` (its content differs by name); returns the
 * directory and the digest. Given `existing`, the image is added to that state directory instead.
 */
export async function tinyStore(t: TestContext, name = 'tiny', existing?: string): Promise<{ stateDir: string; digest: string }> {
  const stateDir = existing ?? (await mkdtemp(join(tmpdir(), 'airlock-image-policy-')));
  if (existing === undefined) t.after(() => rm(stateDir, { recursive: true, force: true }));
  const paths = storePaths({ stateDir });
  await ensureStore(paths);
  const work = await mkdtemp(join(paths.tmp, 'build-'));
  await chmod(work, 0o755);
  const root = join(work, 'rootfs');
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'etc']) await mkdir(join(root, d), { recursive: true, mode: 0o755 });
  await writeFile(join(root, 'etc', 'hostname'), `${name}\n`, { mode: 0o644 });
  const tree = await manifestTree(root);
  await writeFile(join(work, 'manifest.json'), tree.bytes, { mode: 0o644 });
  await commitBlob(paths, work, tree.digest);
  await writeTag(paths, name, tree.digest);
  return { stateDir, digest: tree.digest };
}
