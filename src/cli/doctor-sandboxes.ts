/**
 * `airlock doctor`'s sandbox state: the sandboxes of controllers still running (live, left alone)
 * told from what controllers that died left behind (to reap), by the ownership records each
 * sandbox's controller writes (pid and start time, so a recycled pid is not taken for it).
 */
import { readFileSync } from 'node:fs';
import type { AirlockConfig } from '../config/config.ts';
import { ownerAlive, ownerRecords, type OwnerRecord } from '../host/ownership.ts';

/** The sandboxes of one configuration's run directory, by the state of their controllers. */
export interface SandboxStates {
  /** Live sandboxes, by controller: pid, its command line (shortened), and the sandbox ids. */
  live: { pid: number; command: string; ids: string[] }[];
  /** Records whose controller is gone: what `doctor --reap` (or the next `airlock serve`) releases. */
  stale: OwnerRecord[];
}

function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    // `node …/bin/airlock.js serve …` reads as `airlock serve …`.
    const at = argv.findIndex((a) => a.endsWith('/airlock.js') || a.endsWith('/airlock'));
    const shown = at < 0 ? argv : ['airlock', ...argv.slice(at + 1)];
    const text = shown.join(' ');
    return text.length > 60 ? `${text.slice(0, 59)}…` : text;
  } catch {
    return '?';
  }
}

/** Reads the ownership records and sorts them into live and stale. */
export function sandboxStates(config: Pick<AirlockConfig, 'runDir'>): SandboxStates {
  const live = new Map<number, { pid: number; command: string; ids: string[] }>();
  const stale: OwnerRecord[] = [];
  for (const record of ownerRecords(config.runDir)) {
    if (!ownerAlive(record)) {
      stale.push(record);
      continue;
    }
    const entry = live.get(record.ownerPid) ?? { pid: record.ownerPid, command: commandOf(record.ownerPid), ids: [] };
    entry.ids.push(record.id);
    live.set(record.ownerPid, entry);
  }
  return { live: [...live.values()], stale };
}

/** The sandbox-state line: live sandboxes by controller, then what dead controllers left. */
export function describeSandboxStates(states: SandboxStates, otherEntries: number): string {
  const parts: string[] = [];
  for (const c of states.live) parts.push(`${c.ids.length} live of controller pid ${c.pid} (${c.command})`);
  if (states.stale.length > 0) {
    const owners = [...new Set(states.stale.map((r) => r.ownerPid))].join(', ');
    parts.push(`${states.stale.length} left by dead controllers (pid ${owners}: ${states.stale.map((r) => r.id).join(', ')}): airlock doctor --reap releases them`);
  }
  // Cgroups, leases, processes and network slots carry no record of their own: they belong to the sandboxes above.
  if (otherEntries > 0) {
    parts.push(parts.length > 0 ? `${otherEntries} cgroups, uid leases, processes or network slots of them` : `${otherEntries} cgroups, uid leases, processes or network slots with no ownership record (a crashed controller's)`);
  }
  return parts.length === 0 ? 'nothing left by sandboxes' : parts.join('; ');
}
