/**
 * One timer for everything that must still be sampled, for every sandbox of a controller: an
 * entry runs every `every` ticks, and entries of one period are spread over its ticks (each joins
 * the emptiest slot), so a tick's work is the entries due on it, flat as their number grows, and
 * a controller with nothing to sample runs no timer at all.
 */

/** Removes the entry `SharedSampler.add` returned it for; idempotent. */
export type RemoveEntry = () => void;

/** Entries of one period: one slot per tick of it. */
interface PeriodSlots {
  slots: Set<() => void>[];
  size: number;
}

export class SharedSampler {
  private readonly tickMs: number;
  private readonly periods = new Map<number, PeriodSlots>();
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;

  /** `tickMs`: the finest cadence any entry gets. */
  constructor(tickMs: number) {
    this.tickMs = tickMs;
  }

  /** Entries currently sampled (all periods). */
  get size(): number {
    let n = 0;
    for (const p of this.periods.values()) n += p.size;
    return n;
  }

  /** Calls `fn` every `every` ticks (from the next tick of its slot on) until removed. */
  add(every: number, fn: () => void): RemoveEntry {
    const period = Math.max(1, Math.round(every));
    let group = this.periods.get(period);
    if (group === undefined) {
      group = { slots: Array.from({ length: period }, () => new Set<() => void>()), size: 0 };
      this.periods.set(period, group);
    }
    const slot = group.slots.reduce((min, s) => (s.size < min.size ? s : min));
    // A distinct function per entry: the same callback added twice is sampled twice.
    const entry = () => fn();
    slot.add(entry);
    group.size++;
    this.timer ??= this.startTimer();
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      slot.delete(entry);
      (group as PeriodSlots).size--;
      if ((group as PeriodSlots).size === 0) this.periods.delete(period);
      if (this.periods.size === 0) this.stopTimer();
    };
  }

  /** Stops the timer and forgets every entry. */
  close(): void {
    this.periods.clear();
    this.stopTimer();
  }

  private startTimer(): NodeJS.Timeout {
    const timer = setInterval(() => this.runTick(), this.tickMs);
    // Sampling never keeps a process alive on its own: the sandboxes it samples do.
    timer.unref();
    return timer;
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private runTick(): void {
    this.tick++;
    for (const [period, group] of this.periods) {
      for (const entry of group.slots[this.tick % period] ?? []) {
        try {
          entry();
        } catch {
          // One entry's failure is its own (it falls back or ends); the others still run.
        }
      }
    }
  }
}
