/**
 * What runsc itself leaves on the host for one sandbox (state files, cgroups in the hierarchies
 * the driver doesn't manage), and how to remove it.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlError } from '../../host/control-error.ts';
import { parseMountInfo, type SandboxCgroup } from '../cgroups/index.ts';
import { execRunsc } from './runsc.ts';

/** State entries runsc keeps for container `id` in its `--root` (e.g. `<id>_sandbox:<id>.state`, `.lock`). */
export function stateEntries(stateDir: string, id: string): string[] {
  try {
    return readdirSync(stateDir).filter((name) => name === id || name.startsWith(`${id}_`));
  } catch {
    return [];
  }
}

/** `runsc delete --force` when runsc still has state for `id`, then removes any file it left. */
export async function removeRunscState(runsc: string, globalArgs: string[], stateDir: string, id: string): Promise<void> {
  if (stateEntries(stateDir, id).length === 0) return;
  try {
    await execRunsc(runsc, [...globalArgs, 'delete', '--force', id], 10_000);
  } catch {
    // Already half gone (e.g. its sandbox was killed from outside): the files below are what remains.
  }
  for (const name of stateEntries(stateDir, id)) rmSync(`${stateDir}/${name}`, { recursive: true, force: true });
}

/**
 * On cgroup v1, runsc also creates `<parent>/<id>` in hierarchies the driver doesn't limit
 * (cpuset, blkio, devices, freezer, name=systemd …) and normally removes them on exit. Removes any
 * that survived a crash. On v2 there is only the driver's own directory.
 */
export async function removeForeignCgroups(cgroup: SandboxCgroup, timeoutMs = 2_000): Promise<void> {
  if (cgroup.layout.version === 2) return;
  const own = new Set(cgroup.uniqueDirs);
  const mounts = parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).filter((m) => m.fsType === 'cgroup');
  const dirs = mounts.map((m) => `${m.mountPoint}/${cgroup.relativePath}`).filter((d) => !own.has(d) && existsSync(d));
  const deadline = Date.now() + timeoutMs;
  for (const dir of dirs) {
    for (;;) {
      for (const pid of readPids(dir)) killQuietly(pid);
      try {
        rmdirSync(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
        if (Date.now() > deadline) throw new ControlError('cgroups', `${dir} still busy after ${timeoutMs} ms`, { cause: err });
      }
      await sleep(10);
    }
  }
}

function readPids(dir: string): number[] {
  try {
    return readFileSync(`${dir}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}
