/**
 * Granted host paths, made symlink-race-proof for runsc (T13).
 *
 * runsc's gofer resolves a bind mount's source path itself, in its own pid namespace, so neither
 * the granted path (which could be swapped for a symlink after the check) nor our pinned
 * `/proc/<pid>/fd/<n>` (invisible there) can be handed to it. Instead the pinned inode is
 * bind-mounted on the host, through the descriptor, onto `grants/<n>` in the root-only bundle
 * directory, and runsc binds that path: one that only root can change and that holds no symlink.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { ControlError } from '../driver.ts';
import type { PinnedMount } from '../mount-pins.ts';
import type { BundlePaths, MountTools } from './bundle.ts';
import { RUNSC_ENV } from './runsc.ts';

/** A granted path as bound on the host: what runsc binds, and whether it is a directory or a file. */
export interface BoundGrant {
  source: string;
  kind: 'dir' | 'file';
}

/** Bind-mounts every pinned grant under `grants/`; returns them in the order of `pins`. */
export async function bindGrants(paths: BundlePaths, pins: PinnedMount[], tools: MountTools): Promise<BoundGrant[]> {
  if (pins.length === 0) return [];
  mkdirSync(paths.grants, { mode: 0o700 });
  const bound: BoundGrant[] = [];
  for (const [i, pin] of pins.entries()) {
    const target = `${paths.grants}/${i}`;
    // The mount point must be of the same kind as the granted inode.
    const kind = statSync(`/proc/self/fd/${pin.fd}`).isDirectory() ? 'dir' : 'file';
    if (kind === 'dir') mkdirSync(target, { mode: 0o700 });
    else closeSync(openSync(target, 'wx', 0o600));
    // The descriptor is fd 3 of mount(8); --no-canonicalize keeps it from turning it back into a path.
    await mountTool(tools.mount, ['--no-canonicalize', '--bind', '/proc/self/fd/3', target], pin.fd);
    // Per-mount flags on the host too, so the gofer can't write a read-only grant or honour setuid/devices.
    const flags = `remount,bind,${pin.mount.writable ? 'rw' : 'ro'},nosuid,nodev`;
    await mountTool(tools.mount, ['--no-canonicalize', '-o', flags, target]);
    bound.push({ source: target, kind });
  }
  return bound;
}

function mountTool(file: string, args: string[], fd?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'pipe'];
    if (fd !== undefined) stdio.push(fd);
    const child = spawn(file, args, { stdio, env: RUNSC_ENV });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', (err) => reject(new ControlError('filesystem_access', `cannot run ${file}: ${err.message}`, { cause: err })));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new ControlError('filesystem_access', `${file} ${args.join(' ')} failed: ${stderr.trim() || `exit ${code}`}`));
    });
  });
}
