/**
 * /proc paths that show the host to a sandbox, and what the sandbox sees in their place. One list
 * for both runtimes: the namespace tier binds a replacement over each (its /proc is the host
 * kernel's); the gVisor tier lists them as OCI masked paths (its /proc is its own kernel's and
 * shows none of the host, but a runtime that honours the list masks the same set).
 *
 * Replacements parse where programs parse the file (loadavg, boot_id); everything nothing needs is
 * empty. The replacement files live in one root-owned directory under the state directory, made
 * once and checked on every use (bwrap, as the sandbox's unprivileged uid, binds them read-only).
 */
import { randomUUID } from 'node:crypto';
import { closeSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { ControlError } from '../host/control-error.ts';

/** What a masked path shows instead: an empty file, fixed content, or an empty directory. */
export type ProcReplacement = 'empty' | 'loadavg' | 'boot_id' | 'dir';

/** One masked /proc path and why it is masked. */
export interface ProcMask {
  path: string;
  replacement: ProcReplacement;
  reveals: string;
}

/** The masked paths: runc's defaults first, then what the host kernel shows a namespace sandbox. */
export const PROC_MASKS: readonly ProcMask[] = Object.freeze([
  { path: '/proc/acpi', replacement: 'dir', reveals: 'host firmware tables' },
  { path: '/proc/asound', replacement: 'dir', reveals: 'host sound hardware' },
  { path: '/proc/kcore', replacement: 'empty', reveals: 'host kernel memory' },
  { path: '/proc/keys', replacement: 'empty', reveals: 'kernel keyrings' },
  { path: '/proc/latency_stats', replacement: 'empty', reveals: 'host scheduler latency' },
  { path: '/proc/timer_list', replacement: 'empty', reveals: 'host timers and their processes' },
  { path: '/proc/timer_stats', replacement: 'empty', reveals: 'host timer users' },
  { path: '/proc/sched_debug', replacement: 'empty', reveals: 'every host task' },
  { path: '/proc/scsi', replacement: 'dir', reveals: 'host disks' },
  { path: '/proc/cmdline', replacement: 'empty', reveals: 'the host kernel command line (VM and init arguments)' },
  { path: '/proc/config.gz', replacement: 'empty', reveals: 'the host kernel build configuration' },
  { path: '/proc/interrupts', replacement: 'empty', reveals: 'host devices and per-CPU interrupt counts' },
  { path: '/proc/diskstats', replacement: 'empty', reveals: 'host disks and their activity' },
  { path: '/proc/partitions', replacement: 'empty', reveals: 'host disks and their sizes' },
  { path: '/proc/sys/kernel/random/boot_id', replacement: 'boot_id', reveals: 'the host boot identity (links sandboxes to one host boot)' },
  { path: '/proc/pressure', replacement: 'dir', reveals: 'host-wide CPU, memory and I/O pressure' },
  { path: '/proc/loadavg', replacement: 'loadavg', reveals: 'host load and task counts' },
]);

/** What /proc/loadavg shows inside: idle, one task; parses like the real file. */
export const SANDBOX_LOADAVG = '0.00 0.00 0.00 1/1 1\n';

/** A replacement bound over a masked path: the host file or directory to bind, and where. */
export interface ProcMaskBind {
  source: string;
  path: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$/;

/**
 * Makes (or checks) the replacement directory `${stateDir}/proc-masks` and returns one bind per
 * masked path that exists on this host (a bind onto a missing /proc entry would fail the start).
 * Throws ControlError('proc masks') when the directory is not what it must be.
 */
export function procMaskBinds(stateDir: string, hostProc = '/proc'): ProcMaskBind[] {
  const dir = `${stateDir}/proc-masks`;
  const sources: Record<ProcReplacement, string> = { empty: `${dir}/empty`, loadavg: `${dir}/loadavg`, boot_id: `${dir}/boot_id`, dir: `${dir}/dir` };
  try {
    ensureDir(dir, 0o755);
    ensureFile(sources.empty, '', (text) => text === '');
    ensureFile(sources.loadavg, SANDBOX_LOADAVG, (text) => text === SANDBOX_LOADAVG);
    // One identity per state directory, never the host's: programs that read it still get a UUID.
    ensureFile(sources.boot_id, `${randomUUID()}\n`, (text) => UUID.test(text));
    ensureDir(sources.dir, 0o555);
    if (readdirSync(sources.dir).length > 0) throw new ControlError('proc masks', `${sources.dir} is not empty`);
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError('proc masks', `cannot prepare ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const binds: ProcMaskBind[] = [];
  for (const mask of PROC_MASKS) {
    const host = lstatOrNull(`${hostProc}${mask.path.slice('/proc'.length)}`);
    if (host === null) continue;
    // The host decides the shape: a file over a directory (or the reverse) can't be bound.
    const replacement = host.isDirectory() ? 'dir' : mask.replacement === 'dir' ? 'empty' : mask.replacement;
    binds.push({ source: sources[replacement], path: mask.path });
  }
  return binds;
}

function ensureDir(path: string, mode: number): void {
  try {
    mkdirSync(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  owned(lstatSync(path), path, true);
}

function ensureFile(path: string, content: string, valid: (text: string) => boolean): void {
  // Written aside, then linked in place: a concurrent start never sees a half-written file.
  const tmp = `${path}.${randomUUID()}.tmp`;
  const fd = openSync(tmp, 'wx', 0o444);
  try {
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(tmp, { force: true });
  }
  owned(lstatSync(path), path, false);
  // A replacement that changed is not bound into any sandbox.
  if (!valid(readFileSync(path, 'utf8'))) throw new ControlError('proc masks', `${path} does not hold its replacement content`);
}

/** Ours, the right kind, never a symlink, and writable by nobody else. */
function owned(st: Stats, path: string, dir: boolean): void {
  // Anyone else who could write here could change what every sandbox sees in /proc.
  const uid = process.getuid?.() ?? 0;
  if (st.isSymbolicLink() || st.isDirectory() !== dir || (!dir && !st.isFile()) || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new ControlError('proc masks', `${path} is not a ${dir ? 'directory' : 'file'} owned by uid ${uid} and writable only by it`);
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
