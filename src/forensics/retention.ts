/** Retention of forensic bundles: at most `maxBundles`, none older than `maxAgeDays`; oldest removed first. */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** Bundle file names this module manages (anything else in the directory is left alone). */
export const BUNDLE_NAME_RE = /^agent-[A-Za-z0-9_.-]+-\d{8}T\d{6}\d{3}Z\.zip$/;

/** Retention limits. */
export interface RetentionLimits {
  maxBundles: number;
  maxAgeDays: number;
}

/** Removes bundles beyond the limits from `dir`; returns the names removed (oldest first). */
export async function pruneBundles(dir: string, limits: RetentionLimits, now = Date.now()): Promise<string[]> {
  const names = (await readdir(dir)).filter((n) => BUNDLE_NAME_RE.test(n));
  const bundles = await Promise.all(names.map(async (name) => ({ name, mtimeMs: (await stat(join(dir, name))).mtimeMs })));
  bundles.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
  const cutoff = now - limits.maxAgeDays * 86_400_000;
  const excess = Math.max(0, bundles.length - limits.maxBundles);
  const removed: string[] = [];
  for (const [i, b] of bundles.entries()) {
    if (i < excess || b.mtimeMs < cutoff) {
      await unlink(join(dir, b.name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      removed.push(b.name);
    }
  }
  return removed;
}
