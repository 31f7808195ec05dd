/**
 * The writes and socket probes on watched paths of one sandbox (agent --watch-writes), counted
 * exactly and summarised: one FILESYSTEM violation per (pattern, path) with its count.
 */
import { randomUUID } from 'node:crypto';
import type { PathProbe } from '../../isolation/driver.ts';
import type { SecurityViolation } from '../result.ts';
import { pathPatternOf } from './patterns.ts';

/** How many processes a violation names as examples. */
const SAMPLE_PIDS = 8;
/** Distinct paths listed one by one; beyond, each pattern's further paths are counted together. */
const MAX_PATHS = 64;
/** The path a pattern's further paths are counted under once MAX_PATHS are listed. */
export const MORE_PATHS = '(more paths)';

interface Entry {
  id: string;
  pattern: string;
  path: string;
  syscall: string;
  count: number;
  first: string;
  last: string;
  pids: Set<number>;
}

/** Counts one sandbox's path probes; each add is counted, none is dropped. */
export class ProbeTally {
  readonly #entries = new Map<string, Entry>();
  #total = 0;

  /** Every probe seen so far. */
  get total(): number {
    return this.#total;
  }

  /** Counts one probe. */
  add(p: PathProbe, at: Date = new Date()): void {
    this.#total += 1;
    const now = at.toISOString();
    let key = `${p.pattern}\u0000${p.path}`;
    let path = p.path;
    // Why bounded: a sandbox can make endless distinct paths; the count stays exact, the list doesn't grow.
    if (!this.#entries.has(key) && this.#entries.size >= MAX_PATHS) {
      path = MORE_PATHS;
      key = `${p.pattern}\u0000${path}`;
    }
    let e = this.#entries.get(key);
    if (e === undefined) {
      e = { id: randomUUID(), pattern: p.pattern, path, syscall: p.syscall, count: 0, first: now, last: now, pids: new Set() };
      this.#entries.set(key, e);
    }
    e.count += 1;
    e.last = now;
    if (e.pids.size < SAMPLE_PIDS) e.pids.add(p.pid);
  }

  /** One FILESYSTEM violation per (pattern, path), with its severity and exact count. */
  violations(): SecurityViolation[] {
    return [...this.#entries.values()].map((e) => ({
      violation_id: e.id,
      timestamp: e.first,
      violation_type: `${e.pattern}_attempt`,
      severity: pathPatternOf(e.pattern).severity,
      description: `${describe(e.pattern, e.syscall)}${e.pattern === 'write_unseen' ? '' : ` ${e.path}`} ${e.count} time${e.count === 1 ? '' : 's'}`,
      detection_layer: 'FILESYSTEM',
      // Why blocked: the sandbox's /proc/sys, /dev and root are read-only, it has no /sys or /boot of the host and no host socket.
      blocked: true,
      indicators: {
        pattern: e.pattern,
        path: e.path,
        syscall: e.syscall,
        count: e.count,
        first_seen: e.first,
        last_seen: e.last,
        processes: [...e.pids].map((pid) => ({ pid })),
      },
      remediation: e.pattern === 'runtime_socket_probe'
        ? 'A sandbox never reaches a container runtime; code that probes for one is looking for a way out.'
        : 'Host kernel, device and boot paths are never writable in a sandbox; code that tries is looking for a way out.',
    }));
  }
}

/** What the attempt was, in words (`probe` line's syscall). */
export function describe(pattern: string, syscall: string): string {
  if (pattern === 'runtime_socket_probe') return 'connect to runtime socket';
  if (pattern === 'device_node_create') return `${syscall} of a device node`;
  if (pattern === 'write_unseen') return `${syscall} by a process that hid its memory from the write watcher (non-dumpable)`;
  return 'write to';
}
