/**
 * Granted host paths, made symlink-race-proof for runsc (T13, T24).
 *
 * runsc's gofer resolves a bind mount's source path itself, in its own pid namespace, so neither
 * the granted path (which could be swapped for a symlink after the check) nor our pinned
 * `/proc/<pid>/fd/<n>` (invisible there) can be handed to it. Instead the pinned inode is
 * bind-mounted on the host, through the descriptor, onto `grants/<n>` in the root-only bundle
 * directory (see ../grants/host-binds.ts), and runsc binds that path: one that only root can
 * change and that holds no symlink. removeBundle() unmounts it with the rest of the bundle.
 */
import type { PinnedMount } from '../mount-pins.ts';
import { bindPins, type BoundGrant } from '../grants/host-binds.ts';
import type { BundlePaths, MountTools } from './bundle.ts';

export type { BoundGrant } from '../grants/host-binds.ts';

/** Bind-mounts every pinned grant under `grants/`; returns them in the order of `pins`. */
export function bindGrants(paths: BundlePaths, pins: PinnedMount[], tools: MountTools): Promise<BoundGrant[]> {
  // Root-only: runsc runs as root, and no one else has any business in a bundle.
  return bindPins(paths.grants, 0o700, pins, tools);
}
