/** Tags: human names (`default`) pointing at image digests, one small file each under tags/. */
import { readFileSync } from 'node:fs';
import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ControlError } from '../host/control-error.ts';
import { isDigest } from './manifest.ts';
import type { StorePaths } from './paths.ts';

/** Image names: short, lowercase, no path separators (a name becomes a file name under tags/). */
export const IMAGE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Validates an image name; refuses anything that could escape tags/. */
export function checkImageName(name: string): void {
  if (!IMAGE_NAME_RE.test(name)) {
    throw new ControlError('image', `invalid image name "${name}" (lowercase letters, digits, '.', '_', '-'; at most 64)`);
  }
}

/**
 * Reads a tag; null when it does not exist. Synchronous: it runs on every sandbox start, and reading
 * a 72-byte file the kernel has cached takes microseconds, less of the event loop than the open,
 * read and close round trips of an asynchronous read cost it.
 */
export function readTag(paths: StorePaths, name: string): string | null {
  checkImageName(name);
  let text: string;
  try {
    text = readFileSync(join(paths.tags, name), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const digest = text.trim();
  if (!isDigest(digest)) throw new ControlError('image', `tag ${name} is corrupt (not a sha256 digest); refusing to start`);
  return digest;
}

/** Points a tag at a digest atomically (write a temporary file, then rename over the tag). */
export async function writeTag(paths: StorePaths, name: string, digest: string): Promise<void> {
  checkImageName(name);
  if (!isDigest(digest)) throw new Error(`not a digest: ${digest}`);
  const tmp = join(paths.tags, `.${name}.${process.pid}.tmp`);
  await writeFile(tmp, `${digest}\n`, { mode: 0o644 });
  await rename(tmp, join(paths.tags, name));
}

/** All tags, sorted by name (temporary and foreign files in tags/ are ignored). */
export async function listTags(paths: StorePaths): Promise<{ name: string; digest: string }[]> {
  let names: string[];
  try {
    names = await readdir(paths.tags);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: { name: string; digest: string }[] = [];
  for (const name of names.filter((n) => IMAGE_NAME_RE.test(n)).sort()) {
    const digest = readTag(paths, name);
    if (digest !== null) out.push({ name, digest });
  }
  return out;
}
