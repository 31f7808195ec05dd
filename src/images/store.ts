/**
 * The content-addressed image store under `${stateDir}/images/`:
 *
 *   blobs/sha256/<hex>/rootfs/         the tree (root-owned, never group/world writable)
 *   blobs/sha256/<hex>/manifest.json   canonical manifest; sha256(manifest.json) == <hex>
 *   tags/<NAME>                        `sha256:<hex>\n`
 *   tmp/                               builds in progress (root-only), renamed into blobs/ when done
 *
 * Resolution on every sandbox start is deliberately cheap (a tag read, one hash of the manifest
 * file, a few lstat calls); re-hashing the whole tree (~200 MB) per start would cost seconds.
 * Full content re-verification is `airlock image verify`, and happens once at build.
 */
import { chmod, mkdir, readFile, lstat, rename, writeFile, readdir, rm } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import { ControlError } from '../isolation/driver.ts';
import type { Image } from './image.ts';
import { checkMaskedPaths } from './masked-paths.ts';
import { digestOf, isDigest } from './manifest.ts';

/** Absolute paths of one store. */
export interface StorePaths {
  root: string;
  blobs: string;
  tags: string;
  tmp: string;
}

/** Image names: short, lowercase, no path separators (a name becomes a file name under tags/). */
export const IMAGE_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Raised when a name or digest resolves to no stored image. */
export class ImageNotFoundError extends ControlError {
  constructor(nameOrDigest: string) {
    const hint = isDigest(nameOrDigest) ? '' : `; build it with: airlock image build ${nameOrDigest}`;
    super('image', `image "${nameOrDigest}" not found${hint}`);
    this.name = 'ImageNotFoundError';
  }
}

/** Store locations for a configuration. */
export function storePaths(config: Pick<AirlockConfig, 'stateDir'>): StorePaths {
  const root = join(config.stateDir, 'images');
  return { root, blobs: join(root, 'blobs', 'sha256'), tags: join(root, 'tags'), tmp: join(root, 'tmp') };
}

/** Directory of the blob with the given digest. */
export function blobDir(paths: StorePaths, digest: string): string {
  return join(paths.blobs, digest.slice('sha256:'.length));
}

/**
 * Creates the store directories with exact modes: 0755 everywhere, except tmp/ at 0711 (others may
 * traverse into a build directory by its random name, so apt's unprivileged downloader can write
 * there, but nobody can list or guess builds in progress). Run as root, so all are root-owned.
 */
export async function ensureStore(paths: StorePaths): Promise<void> {
  for (const [dir, mode] of [
    [paths.root, 0o755],
    [join(paths.root, 'blobs'), 0o755],
    [paths.blobs, 0o755],
    [paths.tags, 0o755],
    [paths.tmp, 0o711],
  ] as const) {
    await mkdir(dir, { recursive: true, mode });
    // mkdir leaves an existing directory's mode alone; a loosened store must be tightened again.
    await chmod(dir, mode);
  }
}

/** Validates an image name; refuses anything that could escape tags/. */
export function checkImageName(name: string): void {
  if (!IMAGE_NAME_RE.test(name)) {
    throw new ControlError('image', `invalid image name "${name}" (lowercase letters, digits, '.', '_', '-'; at most 64)`);
  }
}

/** Reads a tag; null when it does not exist. */
export async function readTag(paths: StorePaths, name: string): Promise<string | null> {
  checkImageName(name);
  let text: string;
  try {
    text = await readFile(join(paths.tags, name), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const digest = text.trim();
  if (!isDigest(digest)) throw new ControlError('image', `tag ${name} is corrupt (not a sha256 digest); refusing to start`);
  return digest;
}

/** Points a tag at a digest atomically (write a temporary file, then rename over the tag). */
export async function writeTag(paths: StorePaths, name: string, digest: string): Promise<void> {
  checkImageName(name);
  if (!isDigest(digest)) throw new Error(`not a digest: ${digest}`);
  const tmp = join(paths.tags, `.${name}.${process.pid}.tmp`);
  await writeFile(tmp, `${digest}\n`, { mode: 0o644 });
  await rename(tmp, join(paths.tags, name));
}

/** All tags, sorted by name. */
export async function listTags(paths: StorePaths): Promise<{ name: string; digest: string }[]> {
  let names: string[];
  try {
    names = await readdir(paths.tags);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: { name: string; digest: string }[] = [];
  for (const name of names.filter((n) => IMAGE_NAME_RE.test(n)).sort()) {
    const digest = await readTag(paths, name);
    if (digest !== null) out.push({ name, digest });
  }
  return out;
}

/**
 * Moves a finished build (a directory holding `rootfs/` and `manifest.json`) into the store under
 * its digest. rename(2) within one filesystem is atomic: a blob directory is either complete or
 * absent. If the digest is already stored, the duplicate build is removed instead.
 */
export async function commitBlob(paths: StorePaths, buildDir: string, digest: string): Promise<string> {
  const dest = blobDir(paths, digest);
  try {
    await rename(buildDir, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    await rm(buildDir, { recursive: true, force: true });
  }
  return dest;
}

function rootOnly(st: Stats, what: string): void {
  // A directory another host user owns or can write to could be swapped under a starting sandbox.
  if (st.isSymbolicLink() || !st.isDirectory()) throw new ControlError('image', `${what} is not a directory; refusing to start`);
  if (st.uid !== 0) throw new ControlError('image', `${what} is owned by uid ${st.uid}, not root; refusing to start`);
  if ((st.mode & 0o022) !== 0) {
    throw new ControlError('image', `${what} is group/world writable (mode ${(st.mode & 0o7777).toString(8)}); refusing to start`);
  }
}

/** Reads a blob's manifest.json and checks it hashes to the digest; returns its bytes. */
export async function readVerifiedManifest(paths: StorePaths, digest: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(blobDir(paths, digest), 'manifest.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageNotFoundError(digest);
    throw err;
  }
  // The digest names the manifest; a manifest that no longer hashes to it was altered after build.
  const actual = digestOf(bytes);
  if (actual !== digest) {
    throw new ControlError('image', `manifest of ${digest} hashes to ${actual}: image was tampered with; refusing to start`);
  }
  return bytes;
}

/**
 * Resolves an image name (via its tag) or a `sha256:` digest to a usable {@link Image}, cheaply:
 * (a) read the tag, (b) check manifest.json hashes to the digest, (c) run the T12 masked-path
 * check, (d) check the blob and rootfs directories are root-owned and not group/world writable.
 * It does NOT re-hash file contents: that is `airlock image verify` (and is done at build);
 * re-hashing ~200 MB on every ~10 ms sandbox start would be far too slow. This is deliberate.
 */
export async function resolveImage(config: Pick<AirlockConfig, 'stateDir'>, nameOrDigest: string): Promise<Image> {
  const paths = storePaths(config);
  let digest: string;
  if (isDigest(nameOrDigest)) {
    digest = nameOrDigest;
  } else {
    const tagged = await readTag(paths, nameOrDigest);
    if (tagged === null) throw new ImageNotFoundError(nameOrDigest);
    digest = tagged;
  }
  const dir = blobDir(paths, digest);
  const rootfs = join(dir, 'rootfs');
  let blobSt: Stats;
  let rootSt: Stats;
  try {
    [blobSt, rootSt] = await Promise.all([lstat(dir), lstat(rootfs)]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageNotFoundError(nameOrDigest);
    throw err;
  }
  rootOnly(blobSt, `image directory ${dir}`);
  rootOnly(rootSt, `image root ${rootfs}`);
  await Promise.all([readVerifiedManifest(paths, digest), checkMaskedPaths(rootfs)]);
  return { name: isDigest(nameOrDigest) ? digest : nameOrDigest, digest, rootfs };
}
