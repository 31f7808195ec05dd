/**
 * Committing builds into the content-addressed store, and resolving names to verified images.
 * Layout: see paths.ts.
 *
 * Resolution on every sandbox start is deliberately cheap: a tag read, one hash of the manifest
 * file (~1.5 MB, asynchronous, only when the file changed since this process last hashed it), and
 * a few dozen lstat calls, synchronous: on entries the kernel has cached they take microseconds
 * each, less of the event loop than asynchronous round trips cost it. It does NOT re-hash the tree: re-reading ~250 MB
 * per start would cost seconds against a ~10 ms cold start. Full content re-verification is
 * `airlock image verify` (verify.ts), and is done once at build. This trade-off is deliberate:
 * the store is root-owned and not writable by sandboxes, so per-start checks guard against a
 * tampered manifest and a poisoned layout, and `image verify` against tampered contents.
 */
import { constants, lstatSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import type { Image } from './image.ts';
import { checkMaskedPaths } from './masked-paths.ts';
import { digestOf, isDigest } from './manifest.ts';
import { ImageNotFoundError, blobDir, storePaths } from './paths.ts';
import type { StorePaths } from './paths.ts';
import { listTags, readTag } from './tags.ts';

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

// Synchronous, like every check on a start's path through the store (see readTag for why).
function lstatOrNotFound(path: string, nameOrDigest: string): Stats {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageNotFoundError(nameOrDigest);
    throw err;
  }
}

function rootOnly(st: Stats, what: string): void {
  // A directory another host user owns or can write to could be swapped under a starting sandbox.
  if (st.isSymbolicLink() || !st.isDirectory()) throw new ControlError('image', `${what} is not a directory; refusing to start`);
  if (st.uid !== 0) throw new ControlError('image', `${what} is owned by uid ${st.uid}, not root; refusing to start`);
  if ((st.mode & 0o022) !== 0) {
    throw new ControlError('image', `${what} is group/world writable (mode ${(st.mode & 0o7777).toString(8)}); refusing to start`);
  }
}

/** Reads a whole file. O_NOFOLLOW: a manifest swapped for a symlink is not read through. */
async function readWhole(path: string): Promise<Buffer> {
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await file.readFile();
  } finally {
    await file.close();
  }
}

/** Manifest stamps a caller keeps between resolves (digest → identity of the verified file). */
export interface ManifestStamps {
  get(digest: string): string | undefined;
  set(digest: string, stamp: string): unknown;
}

function manifestStamp(path: string): string | undefined {
  try {
    const st = lstatSync(path, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

/** Reads a blob's manifest.json and checks it hashes to the digest; returns its bytes. */
export async function readVerifiedManifest(paths: StorePaths, digest: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readWhole(join(blobDir(paths, digest), 'manifest.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ImageNotFoundError(digest);
    throw new ControlError('image', `cannot read manifest of ${digest}: ${(err as Error).message}`, { cause: err });
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
 * Throws ControlError('image') (ImageNotFoundError for unknown names) and the sandbox does not start.
 * It does NOT re-hash file contents: see the file comment for why that is `image verify`'s job.
 */
export async function resolveImage(config: Pick<AirlockConfig, 'stateDir'>, nameOrDigest: string, seen?: ManifestStamps): Promise<Image> {
  const paths = storePaths(config);
  let digest: string;
  if (isDigest(nameOrDigest)) {
    digest = nameOrDigest;
  } else {
    const tagged = readTag(paths, nameOrDigest);
    if (tagged === null) throw new ImageNotFoundError(nameOrDigest, (await listTags(paths).catch(() => [])).map((t) => t.name));
    digest = tagged;
  }
  const dir = blobDir(paths, digest);
  const rootfs = join(dir, 'rootfs');
  rootOnly(lstatOrNotFound(dir, nameOrDigest), `image directory ${dir}`);
  rootOnly(lstatOrNotFound(rootfs, nameOrDigest), `image root ${rootfs}`);
  const manifest = join(dir, 'manifest.json');
  const stamp = seen === undefined ? undefined : manifestStamp(manifest);
  // A long-running controller re-hashes a manifest only when its inode, size or times changed
  // since it last hashed to the digest; everything else is still checked on every start.
  if (stamp === undefined || seen?.get(digest) !== stamp) {
    await readVerifiedManifest(paths, digest);
    if (stamp !== undefined) seen?.set(digest, stamp);
  }
  checkMaskedPaths(rootfs);
  return { name: isDigest(nameOrDigest) ? digest : nameOrDigest, digest, rootfs };
}
