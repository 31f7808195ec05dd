/**
 * The sandbox's processes read from the host side: every pid in its cgroup's cgroup.procs, with
 * its command line, parent, state and resident memory from /proc. Read while the sandbox is
 * frozen, so the list is one moment's.
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** One process as the host sees it. */
export interface ProcessEntry {
  pid: number;
  ppid: number | null;
  comm: string;
  /** argv, NUL-separated in /proc; empty for a kernel-side or exited process. */
  cmdline: string[];
  state: string;
  uid: string;
  rss_kb: number;
  exe: string | null;
}

function field(status: string, name: string): string {
  return new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
}

/** Reads /proc for each of `pids`; a process that exited meanwhile is left out. */
export function readProcesses(pids: readonly number[]): ProcessEntry[] {
  const out: ProcessEntry[] = [];
  for (const pid of pids) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const cmdline = readFileSync(`/proc/${pid}/cmdline`).toString('utf8').split('\0');
      if (cmdline[cmdline.length - 1] === '') cmdline.pop();
      let exe: string | null = null;
      try {
        exe = readlinkSync(`/proc/${pid}/exe`);
      } catch {
        // A kernel thread or a process in another mount namespace we may not resolve.
      }
      out.push({ pid, ppid: Number(field(status, 'PPid')) || null, comm: field(status, 'Name'), cmdline, state: field(status, 'State'), uid: field(status, 'Uid'), rss_kb: Number.parseInt(field(status, 'VmRSS'), 10) || 0, exe });
    } catch {
      // Exited between the cgroup read and this one.
    }
  }
  return out;
}
