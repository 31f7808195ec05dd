/**
 * A private image store in a temporary state directory, for controller-side image cases (T12 and
 * the image-integrity checks). Trees are built by the test; symlinks in them are never followed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blobDir, ensureStore, storePaths } from '../../../src/images/paths.ts';
import { writeTag } from '../../../src/images/tags.ts';
import type { Image } from '../../../src/images/image.ts';

/** Directories every fixture root has (the runtimes' mount points). */
export const FIXTURE_DIRS = ['dev', 'proc', 'sys', 'tmp', 'run', 'work'];

/** A temporary store. */
export interface FakeStore {
  stateDir: string;
  /**
   * Adds an image tagged `name` whose rootfs holds the fixture directories, a copy of `binary`
   * at /probe when given, and whatever `shape` adds. Returns the image as the store describes it.
   */
  add(name: string, shape?: (rootfs: string) => Promise<void>, binary?: string): Promise<Image>;
  cleanup(): Promise<void>;
}

/** Creates an empty store (root-owned, 0755, as the real one). */
export async function makeFakeStore(): Promise<FakeStore> {
  const stateDir = await mkdtemp(join(tmpdir(), 'airlock-store-'));
  await chmod(stateDir, 0o755);
  const paths = storePaths({ stateDir });
  await ensureStore(paths);
  return {
    stateDir,
    async add(name, shape, binary) {
      // The manifest only has to hash to the digest for resolution; its content is not re-checked.
      const manifest = Buffer.from(`${JSON.stringify({ fixture: name, nonce: randomBytes(8).toString('hex') })}\n`);
      const digest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;
      const dir = blobDir(paths, digest);
      const rootfs = join(dir, 'rootfs');
      await mkdir(rootfs, { recursive: true, mode: 0o755 });
      await chmod(dir, 0o755);
      await chmod(rootfs, 0o755);
      for (const d of FIXTURE_DIRS) await mkdir(join(rootfs, d), { mode: 0o755 });
      if (binary !== undefined) {
        await copyFile(binary, join(rootfs, 'probe'));
        await chmod(join(rootfs, 'probe'), 0o755);
      }
      await shape?.(rootfs);
      await writeFile(join(dir, 'manifest.json'), manifest, { mode: 0o644 });
      await writeTag(paths, name, digest);
      return { name, digest, rootfs };
    },
    cleanup: () => rm(stateDir, { recursive: true, force: true }),
  };
}
