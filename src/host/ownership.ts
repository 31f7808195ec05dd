/**
 * Who owns each live sandbox: one small record per sandbox under the run directory, naming the
 * controller process (pid + start time, so a recycled pid isn't mistaken for it). After a crash,
 * the next controller finds the records whose owner is gone and reaps what they describe; a CLI
 * run and a server on the same host never reap each other's live sandboxes.
 */
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/** A controller process, named so that a recycled pid isn't mistaken for it. */
export interface ProcessOwner {
  ownerPid: number;
  /** Owner's start time in clock ticks since boot (/proc/PID/stat field 22). */
  ownerStart: string;
}

export interface OwnerRecord extends ProcessOwner {
  id: string;
  runtime: string;
  createdAt: string;
  /** Driver-specific facts needed to reap (e.g. the leased host uid). */
  extra: Record<string, string | number>;
}

/** Start time of a process, or undefined when it doesn't exist. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

/** This process, as an owner. */
export function currentOwner(): ProcessOwner {
  return { ownerPid: process.pid, ownerStart: processStartTime(process.pid) ?? '' };
}

/** Whether the process that wrote `owner` is still running (same pid and the same start time). */
export function ownerAlive(owner: ProcessOwner): boolean {
  const start = processStartTime(owner.ownerPid);
  return start !== undefined && start === owner.ownerStart;
}

function ownersDir(runDir: string): string {
  return `${runDir}/owners`;
}

/** Records that this process owns sandbox `id`. */
export function claimSandbox(runDir: string, id: string, runtime: string, extra: OwnerRecord['extra'] = {}): void {
  const dir = ownersDir(runDir);
  // Root-only: the records decide what a later controller kills.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const record: OwnerRecord = {
    id,
    runtime,
    ...currentOwner(),
    createdAt: new Date().toISOString(),
    extra,
  };
  writeFileSync(`${dir}/${id}.json`, JSON.stringify(record), { mode: 0o600 });
}

/** Forgets sandbox `id` (after a complete teardown). */
export function releaseSandbox(runDir: string, id: string): void {
  try {
    unlinkSync(`${ownersDir(runDir)}/${id}.json`);
  } catch {
    // Already released.
  }
}

/** Every readable ownership record under `runDir`, whatever its owner's state. */
export function ownerRecords(runDir: string): OwnerRecord[] {
  let names: string[];
  try {
    names = readdirSync(ownersDir(runDir));
  } catch {
    return [];
  }
  const records: OwnerRecord[] = [];
  for (const name of names) {
    if (!name.endsWith('.json')) continue;
    try {
      records.push(JSON.parse(readFileSync(`${ownersDir(runDir)}/${name}`, 'utf8')) as OwnerRecord);
    } catch {
      continue;
    }
  }
  return records;
}

/** Records of `runtime` whose owning process is gone: their sandboxes are leftovers to reap. */
export function staleRecords(runDir: string, runtime: string): OwnerRecord[] {
  return ownerRecords(runDir).filter((record) => record.runtime === runtime && !ownerAlive(record));
}
