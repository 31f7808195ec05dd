/**
 * Full verification of a stored image: re-walk the tree, re-hash every file, and compare with the
 * stored manifest. This is the expensive check that per-start resolution deliberately skips.
 */
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import type { ManifestEntry } from './manifest.ts';
import { entryLine, manifestTree, parseManifest } from './manifest.ts';
import { blobDir, storePaths } from './paths.ts';
import { readVerifiedManifest, resolveImage } from './store.ts';

/** Outcome of {@link verifyImage}. */
export interface VerifyResult {
  ok: boolean;
  name: string;
  digest: string;
  /** Human-readable differences (first `limit`), each naming a path; empty when ok. */
  differences: string[];
  files: number;
  totalBytes: number;
  hashMs: number;
}

/**
 * Policy every stored tree must satisfy, whatever its manifest says: root-owned, nothing writable
 * by group or others, no setuid/setgid. Returns one message per violating path (first `limit`).
 */
export function checkTreePolicy(entries: readonly ManifestEntry[], limit = 20): string[] {
  const out: string[] = [];
  for (const e of entries) {
    if (out.length >= limit) break;
    // Image uids mean nothing on the host; a non-root owner could be a real host account.
    if (e.uid !== 0 || e.gid !== 0) out.push(`${e.path}: owned by ${e.uid}:${e.gid}, not root`);
    // Symlink permission bits are meaningless on Linux (always 0777), so only real inodes count.
    else if (e.type !== 'symlink' && (e.mode & 0o022) !== 0) out.push(`${e.path}: group/world writable (${e.mode.toString(8)})`);
    // Defense in depth: NO_NEW_PRIVS already stops setuid from elevating, but no image carries it.
    else if (e.type !== 'symlink' && (e.mode & 0o6000) !== 0) out.push(`${e.path}: setuid/setgid bit set (${e.mode.toString(8)})`);
  }
  return out;
}

function describeChange(a: ManifestEntry, b: ManifestEntry): string {
  const fields: string[] = [];
  if (a.type !== b.type) fields.push(`type ${a.type} -> ${b.type}`);
  if (a.mode !== b.mode) fields.push(`mode ${a.mode.toString(8)} -> ${b.mode.toString(8)}`);
  if (a.uid !== b.uid || a.gid !== b.gid) fields.push(`owner ${a.uid}:${a.gid} -> ${b.uid}:${b.gid}`);
  if (a.size !== b.size) fields.push(`size ${a.size} -> ${b.size}`);
  if (a.sha256 !== b.sha256) fields.push('content changed');
  if (a.target !== b.target) fields.push(`target ${a.target ?? ''} -> ${b.target ?? ''}`);
  return `${a.path}: ${fields.join(', ')}`;
}

/**
 * Compares two manifests (each sorted by path bytes, as produced by manifestTree/parseManifest)
 * and describes the first `limit` differing paths: added, removed, or which fields changed.
 */
export function diffManifests(expected: readonly ManifestEntry[], actual: readonly ManifestEntry[], limit = 20): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while ((i < expected.length || j < actual.length) && out.length < limit) {
    const a = expected[i];
    const b = actual[j];
    const cmp = a === undefined ? 1 : b === undefined ? -1 : Buffer.compare(Buffer.from(a.path), Buffer.from(b.path));
    if (cmp < 0 && a !== undefined) {
      out.push(`${a.path}: missing`);
      i++;
    } else if (cmp > 0 && b !== undefined) {
      out.push(`${b.path}: added`);
      j++;
    } else if (a !== undefined && b !== undefined) {
      if (entryLine(a) !== entryLine(b)) out.push(describeChange(a, b));
      i++;
      j++;
    }
  }
  return out;
}

/**
 * Resolves the image (tag, manifest hash, masked paths, ownership), then re-walks and re-hashes
 * the whole tree and compares it with the stored manifest and the tree policy.
 */
export async function verifyImage(
  config: Pick<AirlockConfig, 'stateDir'>,
  nameOrDigest: string,
  options: { limit?: number; concurrency?: number } = {},
): Promise<VerifyResult> {
  const image = await resolveImage(config, nameOrDigest);
  const paths = storePaths(config);
  const expected = parseManifest(await readVerifiedManifest(paths, image.digest));
  const tree = await manifestTree(join(blobDir(paths, image.digest), 'rootfs'), { concurrency: options.concurrency ?? 16 });
  const limit = options.limit ?? 20;
  const differences = diffManifests(expected, tree.entries, limit);
  if (tree.digest !== image.digest && differences.length === 0) differences.push(`tree digest ${tree.digest} differs`);
  differences.push(...checkTreePolicy(tree.entries, limit - differences.length));
  return {
    ok: differences.length === 0,
    name: image.name,
    digest: image.digest,
    differences,
    files: tree.files,
    totalBytes: tree.totalBytes,
    hashMs: tree.hashMs,
  };
}
