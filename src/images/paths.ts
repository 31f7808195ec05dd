/**
 * Layout of the content-addressed image store under `${stateDir}/images/`:
 *
 *   blobs/sha256/<hex>/rootfs/         the tree (root-owned, never group/world writable)
 *   blobs/sha256/<hex>/manifest.json   canonical manifest; sha256(manifest.json) == <hex>
 *   blobs/sha256/<hex>/build.json      build metadata (informational, not covered by the digest)
 *   tags/<NAME>                        `sha256:<hex>\n`
 *   tmp/                               builds in progress, renamed into blobs/ when complete
 */
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import { isDigest } from './manifest.ts';

/** Absolute paths of one store. */
export interface StorePaths {
  root: string;
  blobs: string;
  tags: string;
  tmp: string;
}

/**
 * Raised when a name or digest resolves to no stored image. With `available` (the stored image
 * names), the message lists them instead of suggesting a build: a mistyped name is the likely case.
 */
export class ImageNotFoundError extends ControlError {
  constructor(nameOrDigest: string, available?: readonly string[]) {
    const build = `airlock image build ${isDigest(nameOrDigest) ? 'NAME' : nameOrDigest}`;
    const hint =
      available === undefined
        ? isDigest(nameOrDigest) ? '' : `; build it with: ${build}`
        : available.length === 0
          ? `; there are no images here yet (${build})`
          : `; the images here: ${available.join(', ')}`;
    super('image', `image "${nameOrDigest}" not found${hint}`);
    this.name = 'ImageNotFoundError';
  }
}

/** Store locations for a configuration. */
export function storePaths(config: Pick<AirlockConfig, 'stateDir'>): StorePaths {
  const root = join(config.stateDir, 'images');
  return { root, blobs: join(root, 'blobs', 'sha256'), tags: join(root, 'tags'), tmp: join(root, 'tmp') };
}

/** Directory of the blob with the given digest (which must already be validated). */
export function blobDir(paths: StorePaths, digest: string): string {
  // A digest is spliced into a path: anything but sha256:<64 hex> could climb out of blobs/.
  if (!isDigest(digest)) throw new ControlError('image', `not a sha256 digest: ${digest}`);
  return join(paths.blobs, digest.slice('sha256:'.length));
}

/**
 * Creates the store directories with exact modes: 0755 everywhere, except tmp/ at 0711 (others may
 * traverse into a build directory by its random name, so apt's unprivileged downloader can write
 * there, but nobody can list builds in progress). Run as root, so all are root-owned.
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
