/**
 * The run configuration an imported image keeps (entrypoint, cmd, env, workdir, user), stored as
 * a file inside the image root: the manifest digest covers it like every other file, so it can't
 * be changed without changing the image's identity, and `image verify` checks it.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ImageRunConfig } from './types.ts';

/** Where the run configuration lives, relative to the image root. */
export const RUN_CONFIG_DIR = '.airlock';
export const RUN_CONFIG_FILE = 'image.json';

/** Writes the run configuration into `rootfs`, replacing whatever the image itself put there. */
export async function writeRunConfig(rootfs: string, run: ImageRunConfig): Promise<void> {
  const dir = join(rootfs, RUN_CONFIG_DIR);
  // Why: an image may ship its own `.airlock` (a symlink, say); it is removed, never written through.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o755 });
  await writeFile(join(dir, RUN_CONFIG_FILE), `${JSON.stringify(run, null, 2)}\n`, { mode: 0o644, flag: 'wx' });
}

/**
 * The run configuration of a stored image root, or null for an image that has none (a built one).
 * Neither the directory nor the file is followed if it is a symlink.
 */
export async function readRunConfig(rootfs: string): Promise<ImageRunConfig | null> {
  const dir = join(rootfs, RUN_CONFIG_DIR);
  const st = await lstat(dir).catch(() => null);
  if (st === null || !st.isDirectory()) return null;
  let fh;
  try {
    fh = await open(join(dir, RUN_CONFIG_FILE), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    const doc = JSON.parse(await fh.readFile('utf8')) as ImageRunConfig;
    return doc;
  } finally {
    await fh.close();
  }
}

/** The default argv of an image (entrypoint + cmd), or [] when it names none. */
export function defaultArgv(run: ImageRunConfig | null): string[] {
  return [...(run?.entrypoint ?? []), ...(run?.cmd ?? [])];
}
