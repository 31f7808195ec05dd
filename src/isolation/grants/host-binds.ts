/**
 * Granted inodes bound on the host through their pinned descriptors, for runtimes that can only
 * be given a path (T13, T24).
 *
 * runsc's gofer resolves a bind source itself, and bubblewrap's `--bind-fd` turns its descriptor
 * back into a path (realpath of /proc/self/fd/N) and mounts that path later: either way a
 * component swapped for a symlink in between would be followed. So each pinned inode is first
 * bind-mounted, through its descriptor, onto `<dir>/<n>`, in a directory only root can change,
 * and the runtime binds that path: one that holds no symlink and that no one else can swap.
 */
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync } from 'node:fs';
import { readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import { ControlError } from '../../host/control-error.ts';
import type { PinnedMount } from '../mount-pins.ts';

/** A granted inode as bound on the host: the path a runtime binds, and its kind. */
export interface BoundGrant {
  source: string;
  kind: 'dir' | 'file';
}

/** mount(8) and umount(8). */
export interface BindTools {
  mount: string;
  umount: string;
  /**
   * For grants written as their owner (`writeAs`): the agent binary that makes id-mapped mounts
   * (`--idmap-bind`) and the sandbox's host identity the owner is mapped to. Without it such a
   * grant is refused.
   */
  idmap?: { agent: string; hostUid: number; hostGid: number };
}

/** mount(8) runs with nothing of the controller's environment. */
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

/**
 * Bind-mounts every pin onto `dir/<n>` (dir is created with `mode`; it must not exist). Returns
 * them in the order of `pins`. On failure, whatever it bound is unbound again.
 */
export async function bindPins(dir: string, mode: number, pins: readonly PinnedMount[], tools: BindTools): Promise<BoundGrant[]> {
  if (pins.length === 0) return [];
  mkdirSync(dir, { mode });
  const bound: BoundGrant[] = [];
  try {
    for (const [i, pin] of pins.entries()) {
      const target = `${dir}/${i}`;
      // The mount point must be of the same kind as the granted inode.
      const kind = fstatSync(pin.fd).isDirectory() ? 'dir' : 'file';
      if (kind === 'dir') mkdirSync(target, { mode: 0o700 });
      else closeSync(openSync(target, 'wx', 0o600));
      const writeAs = pin.mount.writeAs;
      if (writeAs !== undefined) {
        // Why fail closed: without the mapping, writes would be made as someone the grant check didn't ask about.
        if (tools.idmap === undefined || kind !== 'dir') throw new ControlError('filesystem_access', `cannot grant ${pin.resolvedPath} written as uid ${writeAs.uid}: this runtime has no id-mapped grants`);
        // The owner's files appear as the sandbox's host identity, and what it creates is the owner's; nosuid, nodev.
        const { agent, hostUid, hostGid } = tools.idmap;
        await mountTool(agent, ['--idmap-bind', `${writeAs.uid}:${hostUid}`, `${writeAs.gid}:${hostGid}`, pin.mount.writable ? 'rw' : 'ro', target], pin.fd).catch((err: unknown) => {
          throw new ControlError('filesystem_access', `cannot grant ${pin.resolvedPath} written as uid ${writeAs.uid}: no id-mapped mount here (${(err as Error).message}); make it writable by others instead`, { cause: err });
        });
      } else {
        // The descriptor is fd 3 of mount(8); --no-canonicalize keeps it from turning it back into a path.
        await mountTool(tools.mount, ['--no-canonicalize', '--bind', '/proc/self/fd/3', target], pin.fd);
        // Per-mount flags on the host too: a read-only grant stays read-only, and never setuid or devices.
        await mountTool(tools.mount, ['--no-canonicalize', '-o', `remount,bind,${pin.mount.writable ? 'rw' : 'ro'},nosuid,nodev`, target]);
      }
      bound.push({ source: target, kind });
    }
  } catch (err) {
    await unbindAll(dir, tools.umount);
    throw err;
  }
  return bound;
}

/**
 * Unmounts (lazily) everything bound under `dir` and removes the mount points and `dir`, never
 * recursively: a delete through a bind still in place would delete the host's files. Returns what
 * is still mounted (then nothing is removed). Asynchronous: teardown runs in the controller, whose
 * event loop a umount(8) per grant must not hold.
 */
export async function unbindAll(dir: string, umount: string): Promise<string[]> {
  for (const target of await mountsUnder(dir)) await umountQuietly(umount, target);
  const left = await mountsUnder(dir);
  if (left.length > 0) return left;
  let names: string[];
  try {
    // Only the numbered mount points made by bindPins live here.
    names = await readdir(dir);
  } catch {
    return [];
  }
  for (const name of names) {
    try {
      await rmdir(`${dir}/${name}`);
    } catch {
      await unlink(`${dir}/${name}`);
    }
  }
  await rmdir(dir);
  return [];
}

/** Mount points at or below `dir` in this mount namespace, deepest first. */
async function mountsUnder(dir: string): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** umount(8) of one target; its failure shows as the target still being mounted afterwards. */
function umountQuietly(file: string, target: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(file, ['--no-canonicalize', '-l', target], { env: TOOL_ENV, stdio: 'ignore' });
    child.once('error', () => resolve());
    child.once('close', () => resolve());
  });
}

function mountTool(file: string, args: string[], fd?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', 'pipe'];
    if (fd !== undefined) stdio.push(fd);
    const child = spawn(file, args, { stdio, env: TOOL_ENV });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', (err) => reject(new ControlError('filesystem_access', `cannot run ${file}: ${err.message}`, { cause: err })));
    child.once('close', (code) => {
      if (code === 0) resolve();
      else reject(new ControlError('filesystem_access', `${file} ${args.join(' ')} failed: ${stderr.trim() || `exit ${code}`}`));
    });
  });
}
