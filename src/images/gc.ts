/**
 * `image gc`: removes what nothing references — image blobs no tag names and no live sandbox has
 * mounted, abandoned build, import and pull directories under tmp/, stale tag temporaries, and old
 * builds of the C helpers (the agent among them). Never what a live sandbox uses: every mount
 * namespace on the host is consulted (live-references.ts), not a record a sandbox might not have.
 */
import { lstat, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import { collectHelperBuilds, type RemovedBuild } from '../host/c-build-gc.ts';
import { processStartTime } from '../host/ownership.ts';
import { hostMountTables, keysInUse } from './live-references.ts';
import { parseManifest } from './manifest.ts';
import { storePaths } from './paths.ts';
import type { StorePaths } from './paths.ts';
import { listTags } from './tags.ts';

/** What one collection removed (or, with dryRun, would remove). */
export interface GcReport {
  blobs: { digest: string; bytes: number | null }[];
  /** Blobs kept only because a live sandbox has them mounted. */
  inUse: string[];
  tmp: string[];
  helperBuilds: RemovedBuild[];
  dryRun: boolean;
}

/** Options of {@link collectGarbage}. */
export interface GcOptions {
  dryRun?: boolean;
  /** Blobs and temporaries younger than this are kept (a start or an import may be on its way). Default 10 min. */
  graceMs?: number;
  /** Where mount tables are read (tests). */
  proc?: string;
}

/**
 * Temporary names that carry the pid of the process working in them: `build-PID-…` (build.ts),
 * `import-PID-…` (oci/import.ts IMPORT_TMP_PREFIX), `pull-PID-…` (registry/pull.ts PULL_TMP_PREFIX).
 */
const PID_NAMED = /^(?:build|import|pull)-([0-9]+)-/;

async function ageMs(path: string, now: number): Promise<number | undefined> {
  const st = await lstat(path).catch(() => undefined);
  return st === undefined ? undefined : now - st.mtimeMs;
}

async function hasMountsUnder(dir: string, tables: readonly string[]): Promise<boolean> {
  // Why: rm would descend into a still-mounted /proc of an interrupted bootstrap.
  return tables.some((t) => t.split('\n').some((line) => {
    const mountPoint = line.split(' ')[4];
    return mountPoint !== undefined && (mountPoint === dir || mountPoint.startsWith(`${dir}/`));
  }));
}

async function blobBytes(dir: string): Promise<number | null> {
  try {
    return parseManifest(await readFile(join(dir, 'manifest.json'))).reduce((n, e) => n + (e.type === 'file' ? e.size : 0), 0);
  } catch {
    return null;
  }
}

async function collectTmp(paths: StorePaths, tables: readonly string[], now: number, options: GcOptions): Promise<string[]> {
  const removed: string[] = [];
  const grace = options.graceMs ?? 600_000;
  for (const name of await readdir(paths.tmp).catch(() => [] as string[])) {
    const path = join(paths.tmp, name);
    const pid = PID_NAMED.exec(name)?.[1];
    const age = await ageMs(path, now);
    if (age === undefined) continue;
    // A named pid still running is working there; without a pid (older builds) only age tells.
    const abandoned = name.startsWith('gc-') || (pid !== undefined ? processStartTime(Number(pid)) === undefined : age > Math.max(grace, 3_600_000));
    if (!abandoned || (await hasMountsUnder(path, tables))) continue;
    removed.push(path);
    if (options.dryRun !== true) await rm(path, { recursive: true, force: true });
  }
  for (const name of await readdir(paths.tags).catch(() => [] as string[])) {
    const pid = /^\..*\.([0-9]+)\.tmp$/.exec(name)?.[1];
    if (pid === undefined || processStartTime(Number(pid)) !== undefined) continue;
    removed.push(join(paths.tags, name));
    if (options.dryRun !== true) await rm(join(paths.tags, name), { force: true });
  }
  return removed;
}

/** Collects the store of `config` (see the file comment). Run as root, like every store change. */
export async function collectGarbage(config: Pick<AirlockConfig, 'stateDir'>, options: GcOptions = {}): Promise<GcReport> {
  const now = Date.now();
  const paths = storePaths(config);
  const tables = await hostMountTables(options.proc);
  const tagged = new Set((await listTags(paths)).map((t) => t.digest.slice('sha256:'.length)));
  // Nothing is created: a host without a store has nothing to collect.
  const stored = (await readdir(paths.blobs).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n));
  const used = keysInUse(tables, stored);
  const report: GcReport = { blobs: [], inUse: [], tmp: [], helperBuilds: [], dryRun: options.dryRun === true };
  for (const hex of stored) {
    if (tagged.has(hex)) continue;
    if (used.has(hex)) {
      report.inUse.push(`sha256:${hex}`);
      continue;
    }
    const dir = join(paths.blobs, hex);
    // Why: an untagged blob just committed may be an import about to tag it, or a start by digest.
    if ((await ageMs(dir, now) ?? 0) < (options.graceMs ?? 600_000)) continue;
    report.blobs.push({ digest: `sha256:${hex}`, bytes: await blobBytes(dir) });
    if (report.dryRun) continue;
    // Renamed out of blobs/ first: the blob vanishes at once, whatever happens to the removal.
    const trash = join(paths.tmp, `gc-${hex}`);
    await rename(dir, trash);
    await rm(trash, { recursive: true, force: true });
  }
  report.tmp = await collectTmp(paths, tables, now, options);
  report.helperBuilds = await collectHelperBuilds(config.stateDir, (keys) => keysInUse(tables, keys), {
    dryRun: report.dryRun,
    ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
    now,
  });
  return report;
}
