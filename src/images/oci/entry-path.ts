/**
 * Names inside a tar layer, checked before anything touches the disk: every entry name, hard-link
 * name and symlink target is judged lexically here, so extraction never has to ask the file
 * system where a path leads.
 */
import { ImportError } from './import-error.ts';

/** Prefix of an overlay whiteout file (`.wh.NAME` deletes NAME from the layers below). */
export const WHITEOUT_PREFIX = '.wh.';
/** An opaque-directory marker: the directory's contents from the layers below are hidden. */
export const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * An entry name as path components relative to the image root (`[]` is the root itself).
 * Refuses absolute names, `..` components and NUL bytes: neutralising them (stripping the `/`)
 * would store a file somewhere its author did not name, so the whole image is refused instead.
 */
export function entryParts(name: string, what = 'entry'): string[] {
  // Why: a NUL would cut the name short in the kernel, so the file written would not be the one checked.
  if (name.includes('\0')) throw new ImportError(`${what} ${JSON.stringify(name)}: name contains a NUL byte`);
  // Why: tar-stream decodes names as UTF-8 and turns every bad byte into U+FFFD, so distinct names (as Go reads them) would become one.
  if (name.includes('\uFFFD')) throw new ImportError(`${what} ${JSON.stringify(name)}: name is not valid UTF-8`);
  // Why: an absolute name is the classic tar-slip; it must never be joined to a host path.
  if (name.startsWith('/')) throw new ImportError(`${what} ${JSON.stringify(name)}: absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  // Why: `..` climbs out of the staging root (tar-slip), whatever comes after it.
  if (parts.includes('..')) throw new ImportError(`${what} ${JSON.stringify(name)}: path climbs out with ..`);
  return parts;
}

/**
 * Checks a symlink target. An absolute target is kept: inside a sandbox it resolves under the
 * image root, and extraction never follows a link. A relative target that climbs above the image
 * root from the link's own directory is refused: it names nothing inside the image.
 */
export function checkSymlinkTarget(linkParts: readonly string[], target: string): void {
  const label = `symlink /${linkParts.join('/')} -> ${JSON.stringify(target)}`;
  if (target === '') throw new ImportError(`${label}: empty target`);
  if (target.includes('\0')) throw new ImportError(`${label}: target contains a NUL byte`);
  if (target.includes('\uFFFD')) throw new ImportError(`${label}: target is not valid UTF-8`);
  if (target.startsWith('/')) return;
  let depth = linkParts.length - 1;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    depth += part === '..' ? -1 : 1;
    // Why: a link that leads above the root is the tar-slip primitive when anything on the host resolves it.
    if (depth < 0) throw new ImportError(`${label}: target points outside the image root`);
  }
}

/**
 * The name a whiteout deletes, or undefined when `base` is not a whiteout. Refuses names that
 * would delete the directory itself or its parent (`.wh..`, `.wh...`), i.e. reach outside the layer's
 * own directory.
 */
export function whiteoutTarget(base: string, entryName: string): string | undefined {
  if (!base.startsWith(WHITEOUT_PREFIX) || base === OPAQUE_MARKER) return undefined;
  const target = base.slice(WHITEOUT_PREFIX.length);
  // Why: `.wh..` and `.wh...` would delete the containing directory or climb above it.
  if (target === '' || target === '.' || target === '..') {
    throw new ImportError(`whiteout ${JSON.stringify(entryName)}: deletes outside its directory`);
  }
  return target;
}
