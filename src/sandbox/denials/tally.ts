/**
 * The denials of one sandbox, counted exactly and summarised: a burst of 20,000 denials is one
 * violation per (syscall, pattern) with its count, not 20,000 entries.
 */
import { randomUUID } from 'node:crypto';
import type { SecurityViolation } from '../result.ts';
import type { Denial } from './line.ts';
import { patternOf } from './patterns.ts';

/** How many processes a violation names as examples. */
const SAMPLE_PIDS = 8;

interface Entry {
  /** Stable across reads: a persistent sandbox's violation keeps its id while its count grows. */
  id: string;
  count: number;
  first: string;
  last: string;
  pids: Map<number, string>;
  code: string;
}

/** Counts of one sandbox's denials by syscall; each add is counted, none is dropped. */
export class DenialTally {
  readonly #bySyscall = new Map<string, Entry>();
  #total = 0;

  /** Every denial seen so far. */
  get total(): number {
    return this.#total;
  }

  /** Counts one denial. */
  add(d: Denial, at: Date = new Date()): void {
    this.#total += 1;
    const now = at.toISOString();
    let e = this.#bySyscall.get(d.syscall);
    if (e === undefined) {
      e = { id: randomUUID(), count: 0, first: now, last: now, pids: new Map(), code: d.code };
      this.#bySyscall.set(d.syscall, e);
    }
    e.count += 1;
    e.last = now;
    if (e.pids.size < SAMPLE_PIDS) e.pids.set(d.pid, d.comm);
  }

  /** One SECCOMP violation per denied syscall, with its pattern, severity and exact count. */
  violations(): SecurityViolation[] {
    return [...this.#bySyscall].map(([syscall, e]) => {
      const { pattern, severity } = patternOf(syscall);
      return {
        violation_id: e.id,
        timestamp: e.first,
        violation_type: pattern === 'forbidden_syscall' ? 'forbidden_syscall' : `${pattern}_attempt`,
        severity,
        description: `seccomp denied ${syscall} ${e.count} time${e.count === 1 ? '' : 's'}`,
        detection_layer: 'SECCOMP',
        blocked: true,
        indicators: {
          pattern,
          syscall,
          count: e.count,
          action: e.code,
          first_seen: e.first,
          last_seen: e.last,
          processes: [...e.pids].map(([pid, comm]) => ({ pid, comm })),
        },
        remediation: 'The call is outside the sandbox profile; code that needs it must run elsewhere.',
      };
    });
  }
}
