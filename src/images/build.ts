/**
 * `image build`: bootstrap a Debian root filesystem with mmdebstrap (variant minbase, as root),
 * post-process it, hash it into a canonical manifest, and move it atomically into the store.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import { checkMaskedPaths } from './masked-paths.ts';
import { manifestTree } from './manifest.ts';
import { runMmdebstrap } from './mmdebstrap.ts';
import { sanitizeTree } from './sanitize.ts';
import { ensureStore, storePaths } from './paths.ts';
import { commitBlob } from './store.ts';
import { checkImageName, writeTag } from './tags.ts';
import { checkTreePolicy } from './verify.ts';

/**
 * Packages every image carries on top of Debian's essential set (which already gives sh and
 * coreutils): interpreters for `--language python|javascript`, prlimit (util-linux) and CA roots.
 */
export const BASE_PACKAGES: readonly string[] = ['python3', 'nodejs', 'util-linux', 'ca-certificates'];

/** What to build. `include` adds to {@link BASE_PACKAGES}. */
export interface BuildOptions {
  name: string;
  suite?: string;
  mirror?: string;
  include?: readonly string[];
  /** Receives one progress line at a time (no trailing newline). */
  log?: (line: string) => void;
}

/** Facts about a finished build. */
export interface BuildResult {
  name: string;
  digest: string;
  rootfs: string;
  files: number;
  entries: number;
  totalBytes: number;
  bootstrapMs: number;
  hashMs: number;
  totalMs: number;
}

/** Build metadata stored beside the manifest; informational only, not covered by the digest. */
export interface BuildInfo {
  name: string;
  created: string;
  suite: string;
  mirror: string;
  packages: string[];
  files: number;
  totalBytes: number;
}

// Strict shapes: these values end up as mmdebstrap arguments, so nothing option-like gets through.
const SUITE_RE = /^[a-z][a-z0-9.-]{0,31}$/;
const PACKAGE_RE = /^[a-z0-9][a-z0-9+.-]{0,99}$/;

function checkInputs(suite: string, mirror: string, packages: readonly string[]): void {
  if (!SUITE_RE.test(suite)) throw new Error(`invalid suite "${suite}"`);
  let url: URL;
  try {
    url = new URL(mirror);
  } catch {
    throw new Error(`invalid mirror URL "${mirror}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`mirror must be http(s): ${mirror}`);
  for (const p of packages) if (!PACKAGE_RE.test(p)) throw new Error(`invalid package name "${p}"`);
}

/** True when something is still mounted at or below `dir` (then it must not be deleted). */
async function hasMountsUnder(dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return info.split('\n').some((line) => {
    const mountPoint = line.split(' ')[4];
    return mountPoint !== undefined && (mountPoint === dir || mountPoint.startsWith(`${dir}/`));
  });
}

/**
 * Builds image `name` and points its tag at the result. Builds in a private directory under the
 * store's tmp/, so a failed or interrupted build never leaves a partial blob in the store.
 */
export async function buildImage(config: AirlockConfig, options: BuildOptions): Promise<BuildResult> {
  const t0 = performance.now();
  const out = options.log ?? (() => {});
  const log = (line: string): void => out(line.startsWith('mmdebstrap: ') ? line : `image: ${line}`);
  checkImageName(options.name);
  const suite = options.suite ?? config.debianSuite;
  const mirror = options.mirror ?? config.debianMirror;
  const packages = [...new Set([...BASE_PACKAGES, ...(options.include ?? [])])].sort();
  checkInputs(suite, mirror, packages);
  const paths = storePaths(config);
  await ensureStore(paths);
  // The pid in the name tells `image gc` whether the build is still running.
  const work = await mkdtemp(join(paths.tmp, `build-${process.pid}-`));
  // Traversable, so apt downloads as its unprivileged _apt user rather than as root.
  await chmod(work, 0o755);
  const rootfs = join(work, 'rootfs');
  try {
    log(`fetching/unpacking ${packages.length} packages (+ essential) from ${mirror} ${suite}…`);
    await runMmdebstrap({ suite, mirror, packages, target: rootfs, log });
    const t1 = performance.now();
    log(`bootstrapped in ${((t1 - t0) / 1000).toFixed(1)} s; post-processing…`);
    const fixed = await sanitizeTree(rootfs);
    log(`emptied dev/ (${fixed.devEntries} entries), removed ${fixed.removedSpecial} other device nodes/fifos/sockets`);
    log(`set owner root on ${fixed.chowned} entries, stripped setuid/setgid/group-world-write from ${fixed.chmodded}`);
    checkMaskedPaths(rootfs);
    const tree = await manifestTree(rootfs, {
      onWalked: (files, dirs) => log(`hashing ${files} files (${dirs} dirs and symlinks)…`),
    });
    log(`hashed ${(tree.totalBytes / 1048576).toFixed(1)} MiB in ${(tree.hashMs / 1000).toFixed(2)} s (walk ${tree.walkMs.toFixed(0)} ms)`);
    const violations = checkTreePolicy(tree.entries);
    if (violations.length > 0) throw new Error(`image tree violates the store policy: ${violations.join('; ')}`);
    await writeFile(join(work, 'manifest.json'), tree.bytes, { mode: 0o644 });
    const info: BuildInfo = {
      name: options.name,
      created: new Date().toISOString(),
      suite,
      mirror,
      packages,
      files: tree.files,
      totalBytes: tree.totalBytes,
    };
    await writeFile(join(work, 'build.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
    const dest = await commitBlob(paths, work, tree.digest);
    await writeTag(paths, options.name, tree.digest);
    log(`stored ${tree.digest} as ${options.name}`);
    return {
      name: options.name,
      digest: tree.digest,
      rootfs: join(dest, 'rootfs'),
      files: tree.files,
      entries: tree.entries.length,
      totalBytes: tree.totalBytes,
      bootstrapMs: t1 - t0,
      hashMs: tree.hashMs,
      totalMs: performance.now() - t0,
    };
  } catch (err) {
    // Never recurse into a tree that still has the bootstrap's /proc or /sys mounted in it.
    if (await hasMountsUnder(work)) log(`left ${work} in place: something is still mounted below it`);
    else await rm(work, { recursive: true, force: true });
    throw err;
  }
}
