/**
 * The controller's own descriptors (T8): anything it opens while a sandbox starts must be
 * close-on-exec, or a runtime it execs could hand it on to the sandbox (CVE-2024-21626).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** O_CLOEXEC as /proc/PID/fdinfo prints `flags:` (octal). */
const O_CLOEXEC = 0o2000000;

/** Descriptor numbers open in this process right now. */
export function openFdNumbers(): Set<number> {
  return new Set(readdirSync('/proc/self/fd').map(Number));
}

/** Descriptors opened since `before` that lack close-on-exec, as `fd -> target` strings. */
export function fdsWithoutCloexec(before: Set<number>): string[] {
  const out: string[] = [];
  for (const fd of openFdNumbers()) {
    if (before.has(fd)) continue;
    let info: string;
    let target: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // Closed meanwhile (including the descriptors of these very reads).
    }
    const flags = /^flags:\s+([0-7]+)/m.exec(info)?.[1];
    if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0) out.push(`${fd} -> ${target}`);
  }
  return out;
}
