/**
 * The per-sandbox bundle directory `${runDir}/gvisor/<id>/`: config.json, runsc's start-up log,
 * the empty placeholders that hide devices, and the host tmpfs used as the sandbox's /tmp.
 *
 * Layout (every directory root-owned 0700 unless noted; only runsc, running as root, reads it):
 *   config.json      written at start(), 0600
 *   run.log          runsc's `run` debug log
 *   boot.log         FIFO carrying the sandbox kernel's debug log (its clone trace), read as written
 *   hide/empty       empty file 0000, bound read-only over /dev/fuse
 *   hide/dir/        empty directory 0555, bound read-only over /dev/pts
 *   scratch/         mount point of a tmpfs (size=scratchMb, mode 1777), bound at /tmp
 *   grants/<n>       host bind mount of the n-th granted path, made from its pinned descriptor
 *   skeleton/        mount points the image lacks (see rootfs.ts)
 *   root/            read-only overlay of skeleton/ over the image: runsc's root
 */
import { execFile } from 'node:child_process';
import { chownSync, closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { promisify } from 'node:util';
import { type SandboxSpec } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import { parseMountInfo } from '../cgroups/index.ts';
import { SANDBOX_UID } from './oci-spec.ts';
import { RUNSC_ENV } from './runsc.ts';

const run = promisify(execFile);

/** Paths inside one bundle directory. */
export interface BundlePaths {
  dir: string;
  config: string;
  runLog: string;
  bootLog: string;
  emptyFile: string;
  emptyDir: string;
  scratch: string;
  grants: string;
  skeleton: string;
  root: string;
}

/** Names the files of the bundle for sandbox `id` under `gvisorDir`. */
export function bundlePaths(gvisorDir: string, id: string): BundlePaths {
  const dir = `${gvisorDir}/${id}`;
  return {
    dir,
    config: `${dir}/config.json`,
    runLog: `${dir}/run.log`,
    bootLog: `${dir}/boot.log`,
    emptyFile: `${dir}/hide/empty`,
    emptyDir: `${dir}/hide/dir`,
    scratch: `${dir}/scratch`,
    grants: `${dir}/grants`,
    skeleton: `${dir}/skeleton`,
    root: `${dir}/root`,
  };
}

/** Tools the bundle needs from the host. */
export interface MountTools {
  mount: string;
  umount: string;
}

/**
 * Creates the bundle directory and its placeholders. Fails if the directory exists (an id in use);
 * on any other failure, whatever it made is removed again before the ControlError is thrown.
 */
export function createBundleDir(paths: BundlePaths): void {
  try {
    // Exclusive: a second sandbox with the same id must not share (or delete) this one's files.
    mkdirSync(paths.dir, { mode: 0o700 });
  } catch (err) {
    throw new ControlError('gvisor', `cannot create bundle ${paths.dir}: ${(err as Error).message}`, { cause: err });
  }
  try {
    mkdirSync(`${paths.dir}/hide`, { mode: 0o700 });
    mkdirSync(paths.emptyDir, { mode: 0o555 });
    // Mode 0: the sandbox user can't open what it hides (read-only would still open for reading).
    closeSync(openSync(paths.emptyFile, 'wx', 0o000));
    mkdirSync(paths.scratch, { mode: 0o700 });
  } catch (err) {
    removeBundleDir(paths);
    throw new ControlError('gvisor', `cannot populate bundle ${paths.dir}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Mounts the scratch tmpfs in a bundle {@link createBundleDir} made, and the working directory in
 * it. On failure the caller removes the bundle ({@link removeBundle}: it unmounts what is mounted).
 */
export async function mountScratch(paths: BundlePaths, spec: SandboxSpec, tools: MountTools): Promise<void> {
  try {
    // A tmpfs of its own, so the size limit is the host kernel's and fullness is visible from here;
    // nosuid/nodev so nothing written to it can become a setuid binary or a device node.
    const options = `size=${spec.limits.scratchMb}m,mode=1777,nosuid,nodev`;
    await run(tools.mount, ['-t', 'tmpfs', '-o', options, 'airlock-scratch', paths.scratch], { env: RUNSC_ENV });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    throw new ControlError('scratch', `cannot mount a ${spec.limits.scratchMb} MiB tmpfs at ${paths.scratch}: ${detail}`, { cause: err });
  }
  try {
    prepareWorkdir(paths, spec.workdir);
  } catch (err) {
    throw new ControlError('workdir', `cannot create ${spec.workdir} in scratch: ${(err as Error).message}`, { cause: err });
  }
}

/** A workdir under /tmp is made on the scratch tmpfs and owned by the sandbox user, so it can write there. */
function prepareWorkdir(paths: BundlePaths, workdir: string): void {
  if (!workdir.startsWith('/tmp/')) return;
  let current = paths.scratch;
  for (const part of workdir.slice('/tmp/'.length).split('/')) {
    current = `${current}/${part}`;
    mkdirSync(current, { mode: 0o755 });
    chownSync(current, SANDBOX_UID, SANDBOX_UID);
  }
}

/** True when the scratch tmpfs has no free block left (best effort: false when unreadable). */
export async function scratchIsFull(paths: BundlePaths): Promise<boolean> {
  try {
    const fs = await statfs(paths.scratch);
    return fs.bavail === 0 || fs.ffree === 0;
  } catch {
    return false;
  }
}

/** Mount points at or under `dir`, deepest first (read from this process's mount table). */
export function mountsUnder(dir: string): string[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts everything under the bundle (scratch, grants; lazily if still busy) and deletes the
 * directory. Idempotent. Never deletes while anything is still mounted under it: a recursive
 * delete through a granted bind mount would delete the host's files.
 */
export async function removeBundle(paths: BundlePaths, tools: MountTools): Promise<void> {
  for (let round = 0; round < 4; round++) {
    const mounted = mountsUnder(paths.dir);
    if (mounted.length === 0) break;
    // One umount for all of them, deepest first; what it could not unmount is retried one by one.
    const all = await run(tools.umount, ['--no-canonicalize', ...mounted], { env: RUNSC_ENV }).then(() => true, () => false);
    if (all) continue;
    for (const target of mountsUnder(paths.dir)) {
      try {
        await run(tools.umount, ['--no-canonicalize', target], { env: RUNSC_ENV });
      } catch {
        // Busy (a process still holds it): detach now, the kernel frees it when the last user goes.
        await run(tools.umount, ['--no-canonicalize', '-l', target], { env: RUNSC_ENV }).catch(() => undefined);
      }
    }
  }
  const left = mountsUnder(paths.dir);
  if (left.length > 0) throw new ControlError('scratch', `still mounted, bundle kept: ${left.join(', ')}`);
  removeBundleDir(paths);
}

function removeBundleDir(paths: BundlePaths): void {
  rmSync(paths.dir, { recursive: true, force: true });
}
