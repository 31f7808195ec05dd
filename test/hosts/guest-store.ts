/**
 * The guest's /var/lib/airlock: this host's default image (the one `./scripts/setup.sh` built) and
 * a built in-sandbox agent, as a second ext4 disk. Cached beside the guest image under a name made
 * from the image's digest and the agent's source, so a new default image costs a new disk (seconds),
 * not a new guest.
 *
 * Why a disk and not a 9p share of the host's store: every test hard-links the default image into
 * its own state directory (test/security/lib/isolated-config.ts); on the same ext4 file system that
 * is a few milliseconds, across a share it is a 270 MB copy per test file, in guest memory.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AirlockConfig } from '../../src/config/config.ts';
import { AGENT_CFLAGS, AGENT_SOURCE, ensureAgent } from '../../src/agent/build.ts';
import { blobDir, storePaths } from '../../src/images/paths.ts';

const run = promisify(execFile);

/** Room left on the disk for the tests' own state directories (sparse: it costs nothing unused). */
const FREE_MIB = 2048;

/** A built store disk. */
export interface GuestStoreDisk {
  /** The disk image file (ext4, labelled airlock-store). */
  path: string;
  /** The default image's digest it holds. */
  digest: string;
  /** Milliseconds this call spent building, 0 when the cache had it. */
  buildMs: number;
}

/** The digest the host's default image tag names, or undefined when the host has none. */
export function hostDefaultImageDigest(config: Pick<AirlockConfig, 'stateDir' | 'defaultImage'>): string | undefined {
  const tag = join(storePaths(config).tags, config.defaultImage);
  if (!existsSync(tag)) return undefined;
  const digest = readFileSync(tag, 'utf8').trim();
  return existsSync(join(blobDir(storePaths(config), digest), 'manifest.json')) ? digest : undefined;
}

/** The cache file name for a store disk holding `digest` (and an agent built from today's source). */
export function guestStoreKey(digest: string): string {
  const hash = createHash('sha256');
  hash.update(`${digest}\0`);
  hash.update(readFileSync(AGENT_SOURCE));
  hash.update(`\0${AGENT_CFLAGS.join(' ')}`);
  return `store-${hash.digest('hex')}.ext4`;
}

/**
 * The store disk for the host's default image, from the cache or built now (root: the image tree
 * is root-owned). The guest mounts it at /var/lib/airlock, the default state directory, under the
 * default image name, so tests there find it as they do on a host set up by `setup.sh`.
 */
export async function ensureGuestStoreDisk(config: Pick<AirlockConfig, 'stateDir' | 'defaultImage'>, cacheRoot: string): Promise<GuestStoreDisk> {
  const digest = hostDefaultImageDigest(config);
  if (digest === undefined) throw new Error(`guest store: no default image "${config.defaultImage}" in ${storePaths(config).root} (./scripts/setup.sh install builds it)`);
  const path = join(cacheRoot, guestStoreKey(digest));
  if (existsSync(path)) return { path, digest, buildMs: 0 };
  const started = performance.now();
  await mkdir(cacheRoot, { recursive: true });
  const staging = `${path}.partial-${process.pid}`;
  const partialDisk = `${staging}.ext4`;
  await rm(staging, { recursive: true, force: true });
  try {
    const guest = { stateDir: staging };
    const to = storePaths(guest);
    await mkdir(staging, { mode: 0o755 });
    for (const dir of [to.root, join(to.root, 'blobs'), to.blobs, to.tags]) await mkdir(dir, { mode: 0o755 });
    await mkdir(to.tmp, { mode: 0o711 });
    await copyTree(blobDir(storePaths(config), digest), blobDir(to, digest));
    await writeFile(join(to.tags, config.defaultImage), `${digest}\n`, { mode: 0o644 });
    // Built here (host gcc, a static binary) into the staging tree, never into the host's state.
    await ensureAgent(guest);
    const { stdout } = await run('du', ['-sm', staging]);
    const sizeMiB = Number(stdout.split('\t')[0]) + FREE_MIB;
    await run('mke2fs', ['-q', '-t', 'ext4', '-L', 'airlock-store', '-d', staging, partialDisk, `${sizeMiB}M`]);
    // The finished disk appears whole or not at all.
    await rename(partialDisk, path);
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(partialDisk, { force: true });
  }
  return { path, digest, buildMs: Math.round(performance.now() - started) };
}

/** `cp -al` (hard links) within a file system, `cp -a` across. */
async function copyTree(from: string, to: string): Promise<void> {
  try {
    await run('cp', ['-al', from, to]);
  } catch {
    await rm(to, { recursive: true, force: true });
    await run('cp', ['-a', from, to]);
  }
}
