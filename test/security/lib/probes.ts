/**
 * Compiles the C probes of this suite into a fresh directory the sandbox's unprivileged host uid can
 * read, and describes how to grant them to a sandbox (read-only, at {@link PROBE_DIR}).
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { GrantedMount } from '../../../src/isolation/driver.ts';

const run = promisify(execFile);
const SOURCES = new URL('../probes/', import.meta.url).pathname;

/** The binaries the suite builds, from their C sources in test/security/probes/. */
const BINARIES: Readonly<Record<string, readonly string[]>> = {
  probe: ['probe.c', 'common.c', 'syscalls.c', 'checks.c'],
  'suid-id': ['suid-id.c'],
};

/**
 * Where the probe directory appears inside every sandbox: `/work`, a mount point every image has
 * (the read-only image root can't grow new mount points).
 */
export const PROBE_DIR = '/work';

/** The compiled probes and their grant. */
export interface ProbeKit {
  /** Host directory holding the binaries (0755, root-owned). */
  hostDir: string;
  /** Absolute sandbox path of the main probe. */
  probe: string;
  /** Absolute sandbox path of the inert setuid-root helper (prints its ids only). */
  suidHelper: string;
  /** The read-only grant to pass in a request's `mounts`. */
  mount: GrantedMount;
  /** Removes the directory. */
  cleanup(): Promise<void>;
}

/** Builds `probe` and the setuid helper with `gcc -static -O2`; throws with gcc's output on failure. */
export async function compileProbes(): Promise<ProbeKit> {
  const hostDir = await mkdtemp(join(tmpdir(), 'airlock-probe-'));
  try {
    // mkdtemp makes it 0700: the sandbox's host uid must be able to traverse and read it.
    await chmod(hostDir, 0o755);
    for (const [name, sources] of Object.entries(BINARIES)) {
      const out = join(hostDir, name);
      await run('gcc', ['-static', '-O2', '-Wall', '-o', out, ...sources.map((s) => join(SOURCES, s))]);
      await chmod(out, 0o755);
    }
    // T19: a setuid-root binary that must not elevate inside the sandbox. It only prints its ids.
    const suid = join(hostDir, 'suid-id');
    await chown(suid, 0, 0);
    await chmod(suid, 0o4755);
  } catch (err) {
    await rm(hostDir, { recursive: true, force: true });
    const detail = (err as { stderr?: string }).stderr ?? (err as Error).message;
    throw new Error(`cannot compile probes: ${detail}`, { cause: err });
  }
  return {
    hostDir,
    probe: `${PROBE_DIR}/probe`,
    suidHelper: `${PROBE_DIR}/suid-id`,
    mount: { hostPath: hostDir, sandboxPath: PROBE_DIR, writable: false },
    cleanup: () => rm(hostDir, { recursive: true, force: true }),
  };
}

/** One JSON line printed by the probe. */
export interface ProbeLine {
  check: string;
  ret?: number | null;
  errno?: number | null;
  signal?: number;
  [key: string]: unknown;
}

/** Parses probe stdout; lines that are not JSON objects are ignored. */
export function parseProbeOutput(output: string): ProbeLine[] {
  const lines: ProbeLine[] = [];
  for (const text of output.split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      const value = JSON.parse(text) as unknown;
      if (typeof value === 'object' && value !== null && typeof (value as ProbeLine).check === 'string') lines.push(value as ProbeLine);
    } catch {
      // Partial line (the sandbox was killed mid-write): ignore it.
    }
  }
  return lines;
}

/** Every line of one check. */
export function linesOf(lines: ProbeLine[], check: string): ProbeLine[] {
  return lines.filter((l) => l.check === check);
}

/** The single line of one check (optionally with a matching field); throws when absent. */
export function lineOf(lines: ProbeLine[], check: string, where: Record<string, unknown> = {}): ProbeLine {
  const found = lines.find((l) => l.check === check && Object.entries(where).every(([k, v]) => l[k] === v));
  if (found === undefined) throw new Error(`probe printed no "${check}" line ${JSON.stringify(where)}`);
  return found;
}

/** Linux errno numbers the assertions name. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EACCES: 13,
  ENOTTY: 25,
  ETXTBSY: 26,
  EROFS: 30,
  ENOSYS: 38,
  ECONNREFUSED: 111,
} as const;

/** Signal numbers (x86_64/arm64 share these). */
export const SIGNAL = { SIGKILL: 9, SIGSEGV: 11, SIGSYS: 31 } as const;
