/**
 * The image manifests a root front end (`airlock run`) hashed to their digest before, kept
 * between runs: the same ManifestStamps a long-running controller keeps in memory (the manifest
 * file's device, inode, size, modification and change times when it last hashed right), in
 * `<stateDir>/image-stamps/verified-manifests.json`, root's and private.
 *
 * Why as trustworthy as hashing every run: any change to the manifest file, or a new file in its
 * place, changes its change time (which no process can set back short of moving the clock, a
 * root power) or its inode; the stamp file is written only by root into a directory only root
 * may write (see host/root-private-files.ts), and whoever could plant one could rewrite the image
 * store itself. A missing, unreadable, malformed or non-private file only means hashing again.
 * Everything else resolveImage checks (ownership, masked paths) is still checked on every run.
 */
import { join } from 'node:path';
import { ensurePrivateDir, readRootPrivate, writeRootPrivate } from '../host/root-private-files.ts';
import type { ManifestStamps } from './store.ts';

const FILE = 'verified-manifests.json';
/** How many images the file remembers (the most recently verified). */
const MAX_ENTRIES = 64;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const STAMP = /^\d+:\d+:\d+:\d+:\d+$/;

/** Where a root front end keeps the file: `<stateDir>/image-stamps`. */
export function imageStampDirOf(config: { stateDir: string }): string {
  return join(config.stateDir, 'image-stamps');
}

/** The entries of the file's text, or none if any entry is malformed (one bad entry discredits the file). */
function parse(text: string | undefined): Map<string, string> {
  const stamps = new Map<string, string>();
  if (text === undefined) return stamps;
  try {
    const entries: unknown = JSON.parse(text);
    if (!Array.isArray(entries)) return stamps;
    for (const e of entries) {
      if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || !DIGEST.test(e[0]) || typeof e[1] !== 'string' || !STAMP.test(e[1])) return new Map();
      stamps.set(e[0], e[1]);
    }
  } catch {
    return new Map();
  }
  return stamps;
}

/**
 * The remembered stamps of `config`'s state directory, for resolveImage: reading answers what is
 * remembered, and a newly verified manifest is written back at once (best effort). For a process
 * that is not root it remembers nothing, so every manifest is hashed.
 */
export async function rememberedManifestStamps(config: { stateDir: string }): Promise<ManifestStamps> {
  const dir = imageStampDirOf(config);
  const stamps = parse(await readRootPrivate(dir, FILE));
  const writable = await ensurePrivateDir(dir);
  return {
    get: (digest) => stamps.get(digest),
    set(digest, stamp) {
      stamps.delete(digest);
      stamps.set(digest, stamp);
      if (writable) writeRootPrivate(dir, FILE, JSON.stringify([...stamps].slice(-MAX_ENTRIES)));
    },
  };
}
