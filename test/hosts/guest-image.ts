/**
 * The test guest's image: built once by guest/build-image.sh and cached under a folder named by the
 * SHA-256 of everything that goes into it, so later runs only boot it.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { guestQemu, type GuestQemu } from './guest-qemu.ts';
import { processAlive } from '../../src/host/process-alive.ts';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

/** The files whose bytes decide the image: the build script, what it installs and copies in. */
export const GUEST_INPUT_FILES = [
  join(here, 'guest', 'build-image.sh'),
  join(here, 'guest', 'init.sh'),
  join(here, 'guest', 'initramfs-hook.sh'),
  join(here, 'guest', 'packages.txt'),
  join(repoRoot, 'scripts', 'system-packages.txt'),
];

/** What the image is built from, besides the input files. */
export interface GuestInputs {
  /** Debian suite of the guest, the host's own (VERSION_CODENAME). */
  suite: string;
  /** apt sources file handed to mmdebstrap: the host's configured Debian mirror. */
  sources: string;
  /** linux-image-amd64 version the guest is pinned to (the host apt's candidate). */
  kernelVersion: string;
  /** Node.js binary copied into the guest: the one running this harness (execPath is already resolved). */
  nodeBinary: string;
  nodeVersion: string;
}

/** A built image's three files. */
export interface GuestImage {
  key: string;
  dir: string;
  kernel: string;
  initrd: string;
  rootfs: string;
  /** The QEMU that boots it (guest-qemu.ts). */
  qemu: GuestQemu;
  /** Milliseconds this call spent building, 0 when the cache had it. */
  buildMs: number;
}

/** The default cache root: $AIRLOCK_GUEST_CACHE, else $XDG_CACHE_HOME/airlock/guest, else ~/.cache/airlock/guest. */
export function defaultGuestCache(): string {
  const explicit = process.env.AIRLOCK_GUEST_CACHE;
  if (explicit !== undefined && explicit !== '') return explicit;
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'airlock', 'guest');
}

/** Reads this host's inputs: its suite, its Debian sources, apt's kernel candidate and this Node. */
export async function hostGuestInputs(): Promise<GuestInputs> {
  const osRelease = readFileSync('/etc/os-release', 'utf8');
  const suite = /^VERSION_CODENAME=(\S+)$/m.exec(osRelease)?.[1];
  if (suite === undefined) throw new Error('guest image: /etc/os-release names no VERSION_CODENAME (a Debian host is needed)');
  const sources = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'].find((p) => existsSync(p) && readFileSync(p, 'utf8').includes('debian'));
  if (sources === undefined) throw new Error('guest image: no Debian apt sources file on this host');
  const { stdout } = await run('apt-cache', ['policy', 'linux-image-amd64']);
  const kernelVersion = /Candidate:\s*(\S+)/.exec(stdout)?.[1];
  if (kernelVersion === undefined || kernelVersion === '(none)') throw new Error('guest image: apt has no linux-image-amd64 candidate (run apt-get update)');
  return { suite, sources, kernelVersion, nodeBinary: process.execPath, nodeVersion: process.version };
}

/** SHA-256 over the input files' bytes and the other inputs: the cache folder's name. */
export function guestImageKey(inputs: GuestInputs, files: readonly string[] = GUEST_INPUT_FILES): string {
  const hash = createHash('sha256');
  const part = (label: string, value: string | Buffer) => {
    hash.update(`${label}\0${value.length}\0`);
    hash.update(value);
  };
  for (const file of files) part(file.slice(repoRoot.length), readFileSync(file));
  part('suite', inputs.suite);
  part('sources', readFileSync(inputs.sources));
  part('kernel', inputs.kernelVersion);
  part('node', inputs.nodeVersion);
  return hash.digest('hex');
}

/** The image for `inputs`, from the cache or built now (root, mmdebstrap, several minutes). */
export async function ensureGuestImage(inputs: GuestInputs, cacheRoot: string = defaultGuestCache()): Promise<GuestImage> {
  const key = guestImageKey(inputs);
  const dir = join(cacheRoot, key);
  const qemu = await guestQemu();
  const image = (buildMs: number): GuestImage => ({
    key,
    qemu,
    dir,
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    rootfs: join(dir, 'rootfs.ext4'),
    buildMs,
  });
  if (existsSync(join(dir, 'rootfs.ext4'))) return image(0);
  await mkdir(cacheRoot, { recursive: true });
  const partial = join(cacheRoot, `${key}.partial-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  const started = performance.now();
  const script = join(here, 'guest', 'build-image.sh');
  try {
    await run('nice', ['-n', '10', script, partial, inputs.suite, inputs.sources, inputs.kernelVersion, inputs.nodeBinary], {
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    const { stderr } = err as { stderr?: string };
    throw new Error(`guest image build failed:\n${(stderr ?? '').slice(-4000)}`, { cause: err });
  }
  // The finished folder appears whole or not at all: a build cut short never counts as cached.
  await rename(partial, dir).catch(async (err: NodeJS.ErrnoException) => {
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(join(dir, 'rootfs.ext4'))) throw err;
  });
  return image(Math.round(performance.now() - started));
}


/**
 * Removes from the cache what the current run does not use: guest images and store disks of other
 * keys, and partial builds whose builder is gone. Only names this harness makes are touched, so the
 * cache holds one guest (1.1 GB) and one store disk at a time.
 */
export async function pruneGuestCache(cacheRoot: string, keep: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(cacheRoot);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (keep.includes(name)) continue;
    const partial = /\.partial-(\d+)(\.ext4)?$/.exec(name);
    const ours = /^[0-9a-f]{64}$/.test(name) || /^store-[0-9a-f]{64}\.ext4$/.test(name) || partial !== null;
    // A build in progress (its process alive) keeps its partial folder.
    if (!ours || (partial !== null && processAlive(Number(partial[1])))) continue;
    await rm(join(cacheRoot, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
