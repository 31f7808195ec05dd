/**
 * Freezing a sandbox for capture: on cgroup v2 its own cgroup's `cgroup.freeze`; on v1 a freezer
 * cgroup at the same relative path, every process moved in, then `freezer.state`; under gVisor
 * `runsc pause`, which stops the sandbox kernel itself. Whatever runs in the sandbox makes no
 * progress (and can't tidy up) while it is read.
 */
import { dirname } from 'node:path';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ForensicAccess } from '../isolation/driver.ts';
import { parseMountInfo } from '../isolation/cgroups/detect.ts';

const run = promisify(execFile);

/** Longest a freeze may take before the capture gives up (the sandbox is then thawed). */
const FREEZE_TIMEOUT_MS = 5_000;
const RUNSC_TIMEOUT_MS = 30_000;

/** A frozen sandbox: how it was frozen, and how to let it run again. */
export interface Frozen {
  readonly method: 'cgroup-v2' | 'cgroup-v1-freezer' | 'runsc-pause';
  thaw(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + FREEZE_TIMEOUT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`forensics: ${what} within ${FREEZE_TIMEOUT_MS} ms`);
    await sleep(10);
  }
}

/** Runs runsc with the sandbox's global arguments. */
export async function runsc(access: ForensicAccess, args: string[], timeoutMs = RUNSC_TIMEOUT_MS): Promise<string> {
  if (access.runsc === undefined) throw new Error('forensics: not a gVisor sandbox');
  const { stdout } = await run(access.runsc.binary, [...access.runsc.globalArgs, ...args], { timeout: timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' } });
  return stdout;
}

/** The v1 freezer hierarchy's mount point, if one is mounted. */
function freezerMount(): string | undefined {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).find((m) => m.fsType === 'cgroup' && m.superOptions.includes('freezer'))?.mountPoint;
}

function procsOf(file: string): Set<number> {
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number));
}

/** Freezes every process of the sandbox; rejects (leaving it running) when it can't. */
export async function freezeSandbox(access: ForensicAccess): Promise<Frozen> {
  if (access.runsc !== undefined) {
    await runsc(access, ['pause', ...idArg(access)]);
    return { method: 'runsc-pause', thaw: async () => void (await runsc(access, ['resume', ...idArg(access)])) };
  }
  const { cgroup } = access;
  if (cgroup.layout.version === 2) {
    const dir = cgroup.dirs.pids;
    writeFileSync(`${dir}/cgroup.freeze`, '1');
    const thaw = async (): Promise<void> => writeFileSync(`${dir}/cgroup.freeze`, '0');
    try {
      await waitFor(() => /^frozen 1$/m.test(readFileSync(`${dir}/cgroup.events`, 'utf8')), 'the cgroup did not report frozen');
    } catch (err) {
      await thaw();
      throw err;
    }
    return { method: 'cgroup-v2', thaw };
  }
  const mount = freezerMount();
  // Why refuse rather than read a running sandbox: what it changes while read would be in the bundle as fact.
  if (mount === undefined) throw new Error('forensics: cgroup v1 without a freezer hierarchy: the sandbox cannot be frozen');
  const dir = `${mount}/${cgroup.relativePath}`;
  // The first directory made (parents included): everything from there down is ours to remove.
  const firstMade = mkdirSync(dir, { recursive: true });
  /** Where each moved process was in the freezer hierarchy, to put it back on thaw. */
  const origins = new Map<number, string>();
  const thaw = async (): Promise<void> => {
    writeFileSync(`${dir}/freezer.state`, 'THAWED');
    if (firstMade === undefined) return;
    // Why move back and remove: a freezer cgroup we made must not outlive the capture (no leftovers).
    for (const [pid, origin] of origins) moveTo(`${mount}${origin}`, pid);
    for (let d = dir; d.length >= firstMade.length; d = dirname(d)) {
      try {
        rmdirSync(d);
      } catch {
        // A process forked into it meanwhile keeps it: it goes with the sandbox's processes.
        return;
      }
    }
  };
  try {
    // A process forked while others move lands in the old cgroup: repeat until none is left outside.
    for (let round = 0; ; round++) {
      const inside = procsOf(`${dir}/cgroup.procs`);
      const outside = cgroup.pids().filter((pid) => !inside.has(pid));
      if (outside.length === 0 && round > 0) break;
      if (round > 50) throw new Error('forensics: processes kept appearing outside the freezer cgroup');
      for (const pid of outside) {
        const origin = freezerPathOf(pid);
        if (origin !== undefined && moveTo(dir, pid)) origins.set(pid, origin);
      }
      writeFileSync(`${dir}/freezer.state`, 'FROZEN');
      await waitFor(() => readFileSync(`${dir}/freezer.state`, 'utf8').trim() === 'FROZEN', 'the freezer cgroup did not reach FROZEN');
    }
  } catch (err) {
    await thaw();
    throw err;
  }
  return { method: 'cgroup-v1-freezer', thaw };
}

/** The freezer cgroup path of `pid` (relative to the hierarchy), or undefined when it has exited. */
function freezerPathOf(pid: number): string | undefined {
  try {
    return /^\d+:(?:[^:]*,)?freezer(?:,[^:]*)?:(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Moves `pid` into the cgroup directory `dir`; false when it has exited. */
function moveTo(dir: string, pid: number): boolean {
  try {
    writeFileSync(`${dir}/cgroup.procs`, String(pid));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** The runsc container id of a gVisor sandbox. */
function idArg(access: ForensicAccess): string[] {
  return access.runsc === undefined ? [] : [access.runsc.containerId];
}
