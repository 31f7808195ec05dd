/**
 * Granted inodes staged for bubblewrap (T13, T24). bwrap's `--bind-fd` does not mount the
 * descriptor it is given: it takes the descriptor's path (realpath of /proc/self/fd/N) and mounts
 * that path later, so a component swapped for a symlink in between would be followed. Each pinned
 * inode is therefore bound first, through its descriptor, onto `${runDir}/grants/<id>/<n>`
 * (see host-binds.ts), and bwrap is given a descriptor of that bind: the path it takes
 * back lies in directories only root can change.
 */
import { chmodSync, chownSync, mkdirSync, openSync } from 'node:fs';
import { bindPins, unbindAll, type BindTools } from './host-binds.ts';
import { releasePins, type PinnedMount } from '../mount-pins.ts';
import { O_CLOEXEC, O_NOFOLLOW, O_PATH } from '../../host/open-flags.ts';


/** Where one sandbox's grants are staged. */
export function grantStagingDir(runDir: string, id: string): string {
  return `${runDir}/grants/${id}`;
}

/**
 * Binds every pin under the sandbox's staging directory and returns pins whose descriptors name
 * those binds; the given pins are closed. On failure nothing stays bound and the given pins are kept.
 */
export async function stageGrants(runDir: string, id: string, pins: PinnedMount[], tools: BindTools, owner: { uid: number; gid: number }): Promise<PinnedMount[]> {
  if (pins.length === 0) return pins;
  // bwrap runs as the sandbox's uid and must reach the binds: every directory on the way is root's
  // and search-only for others (0711), so no one else can list, create, rename or swap anything there.
  chmodSync(runDir, 0o711);
  mkdirSync(`${runDir}/grants`, { recursive: true, mode: 0o711 });
  const dir = grantStagingDir(runDir, id);
  const bound = await bindPins(dir, 0o700, pins, tools);
  const staged: PinnedMount[] = [];
  try {
    // Only this sandbox's uid may pass through its own staging directory (search only, no listing):
    // another local user who learns the sandbox id can't reach the grants around their parent dirs.
    chownSync(dir, owner.uid, owner.gid);
    chmodSync(dir, 0o100);
    bound.forEach((grant, i) => {
      const pin = pins[i];
      if (pin !== undefined) staged.push({ ...pin, fd: openSync(grant.source, O_PATH | O_NOFOLLOW | O_CLOEXEC) });
    });
  } catch (err) {
    releasePins(staged);
    await unbindAll(dir, tools.umount);
    throw err;
  }
  releasePins(pins);
  return staged;
}

/** Unbinds and removes a sandbox's staged grants; returns what is still mounted (then kept). */
export function unstageGrants(runDir: string, id: string, umount: string): Promise<string[]> {
  return unbindAll(grantStagingDir(runDir, id), umount);
}
