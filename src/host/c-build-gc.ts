/**
 * Collecting old builds of the C helpers (c-build.ts): each source change leaves its previous
 * build behind under `${stateDir}/<kind>/<key>/`. The newest build of each kind is kept (it is
 * what the current source builds to, or is rebuilt from it on next use), as is any build a live
 * sandbox has mounted and any made in the last hour; so are builds in progress.
 */
import { lstat, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** One build (or abandoned build directory) that was, or would be, removed. */
export interface RemovedBuild {
  kind: string;
  path: string;
}

const KEY_RE = /^[0-9a-f]{64}$/;

/** The kinds of helper builds under `stateDir`: directories holding `<key>/` + `<key>.sha256` pairs. */
async function buildKinds(stateDir: string): Promise<string[]> {
  const kinds: string[] = [];
  for (const name of await readdir(stateDir).catch(() => [] as string[])) {
    if (name === 'images') continue;
    const entries = await readdir(join(stateDir, name)).catch(() => undefined);
    if (entries?.some((e) => KEY_RE.test(e) && entries.includes(`${e}.sha256`)) === true) kinds.push(name);
  }
  return kinds;
}

/**
 * Removes helper builds nothing uses (see the file comment). `inUse` answers which of the given
 * keys a live sandbox has mounted. With `dryRun`, only reports what it would remove.
 */
export async function collectHelperBuilds(
  stateDir: string,
  inUse: (keys: string[]) => Set<string>,
  options: { dryRun?: boolean; graceMs?: number; now?: number } = {},
): Promise<RemovedBuild[]> {
  const now = options.now ?? Date.now();
  const grace = options.graceMs ?? 3_600_000;
  const removed: RemovedBuild[] = [];
  for (const kind of await buildKinds(stateDir)) {
    const base = join(stateDir, kind);
    const names = await readdir(base);
    const builds: { key: string; mtimeMs: number }[] = [];
    for (const key of names.filter((n) => KEY_RE.test(n))) {
      const st = await lstat(join(base, `${key}.sha256`)).catch(() => undefined);
      // A build without its checksum yet is being put in place by another process: not ours to judge.
      if (st !== undefined) builds.push({ key, mtimeMs: st.mtimeMs });
    }
    builds.sort((a, b) => b.mtimeMs - a.mtimeMs);
    const used = inUse(builds.map((b) => b.key));
    for (const b of builds.slice(1)) {
      // Why: a build a live sandbox has bound, or one just made, may be what a running controller uses.
      if (used.has(b.key) || now - b.mtimeMs < grace) continue;
      removed.push({ kind, path: join(base, b.key) });
      if (options.dryRun === true) continue;
      // The checksum goes first: without it the directory is never trusted again, even half removed.
      await rm(join(base, `${b.key}.sha256`), { force: true });
      const trash = join(base, `.gc-${b.key}`);
      await rename(join(base, b.key), trash);
      await rm(trash, { recursive: true, force: true });
    }
    for (const name of names.filter((n) => n.startsWith('.build-') || n.startsWith('.gc-'))) {
      const st = await lstat(join(base, name)).catch(() => undefined);
      // Interrupted builds (and interrupted collections) older than the grace period.
      if (st === undefined || now - st.mtimeMs < grace) continue;
      removed.push({ kind, path: join(base, name) });
      if (options.dryRun !== true) await rm(join(base, name), { recursive: true, force: true });
    }
  }
  return removed;
}
