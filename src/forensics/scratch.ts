/**
 * The scratch filesystem's changes against the image: the image's root is mounted read-only, so
 * everything a sandbox wrote is on its scratch (/tmp). The scratch is hashed with the image
 * manifest's own walker and compared with the manifest's entries below tmp/: added, changed and
 * removed paths, and the contents of added or changed files up to a size bound.
 */
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Image } from '../images/image.ts';
import { digestOf, manifestTree, parseManifest, type ManifestEntry } from '../images/manifest.ts';

/** Where the scratch is mounted in the sandbox, as a manifest path prefix. */
const SCRATCH_PREFIX = 'tmp';

/** One difference between the scratch and the image. */
export interface ScratchChange {
  change: 'added' | 'changed' | 'removed';
  /** Path as the sandbox sees it (`/tmp/...`). */
  path: string;
  entry?: ManifestEntry;
  /** Set on added/changed files: whether their bytes are in the bundle (under `scratch/files/`). */
  copied?: boolean;
}

/** The scratch comparison and the files copied. */
export interface ScratchCapture {
  image_digest: string;
  changes: ScratchChange[];
  files: Map<string, Buffer>;
  copy_limit_bytes: number;
}

/** Reads the image's manifest (beside its rootfs) and checks it hashes to the image digest. */
async function imageEntries(image: Image): Promise<ManifestEntry[]> {
  const bytes = await readFile(join(dirname(image.rootfs), 'manifest.json'));
  // Why check: the comparison is only evidence if the baseline is the image the sandbox ran.
  if (digestOf(bytes) !== image.digest) throw new Error(`forensics: the manifest of image ${image.digest} does not hash to its digest`);
  return parseManifest(bytes);
}

/** Reads a file without following a link at its last component (the sandbox chose these names). */
async function readNoFollow(path: string): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.type === b.type && a.mode === b.mode && a.sha256 === b.sha256 && a.target === b.target && a.size === b.size;
}

/** Compares the host directory `scratchDir` (the sandbox's /tmp) with the image's tmp/. */
export async function captureScratch(scratchDir: string, image: Image, copyLimitBytes: number): Promise<ScratchCapture> {
  const baseline = new Map((await imageEntries(image)).filter((e) => e.path.startsWith(`${SCRATCH_PREFIX}/`)).map((e) => [e.path, e]));
  // A trailing slash: a /proc/self/fd/N path is walked as the directory it opens, not as a link.
  const tree = await manifestTree(scratchDir.endsWith('/') ? scratchDir : `${scratchDir}/`, { concurrency: 4 });
  const changes: ScratchChange[] = [];
  const files = new Map<string, Buffer>();
  let copied = 0;
  const seen = new Set<string>();
  for (const e of tree.entries) {
    if (e.path === '.') continue;
    const path = `${SCRATCH_PREFIX}/${e.path}`;
    seen.add(path);
    const before = baseline.get(path);
    if (before !== undefined && sameEntry(before, e)) continue;
    const change: ScratchChange = { change: before === undefined ? 'added' : 'changed', path: `/${path}`, entry: { ...e, path: `/${path}` } };
    if (e.type === 'file') {
      change.copied = copied + e.size <= copyLimitBytes;
      if (change.copied) {
        files.set(e.path, await readNoFollow(join(scratchDir, e.path)));
        copied += e.size;
      }
    }
    changes.push(change);
  }
  for (const [path, e] of baseline) if (!seen.has(path)) changes.push({ change: 'removed', path: `/${path}`, entry: e });
  return { image_digest: image.digest, changes, files, copy_limit_bytes: copyLimitBytes };
}
