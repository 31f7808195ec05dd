/**
 * Warm pools: per (runtime, image, limits) class, a few sandboxes started ahead of demand so that
 * create → first exec is fast. A pooled sandbox is handed out once and never returns to the pool;
 * pools refill in the background and drain when the host runs short of memory. A checkout does not
 * start the replacement at once: building one takes the same event loop and CPUs the checked-out
 * sandbox's first command needs, so the pool refills once that command has finished (the caller
 * says so with {@link WarmPool.checkoutUsed}) or, if none comes, after {@link REFILL_DELAY_MS}.
 */
import { readFileSync } from 'node:fs';
import type { Limits } from '../isolation/driver.ts';
import type { PersistentSandbox } from './persistent.ts';

export interface PoolClass {
  runtime: string;
  /** Image digest (not name): a retagged image never hands out sandboxes of the old one. */
  imageDigest: string;
  limits: Limits;
}

/** Key identifying a pool class. */
export function poolKey(c: PoolClass): string {
  const l = c.limits;
  return [c.runtime, c.imageDigest, l.memoryMb, l.cpuCores, l.pids, l.scratchMb, l.openFiles, l.outputBytes].join('|');
}

/** Fraction of MemAvailable/MemTotal below which pools stop refilling and drain. */
export const MEMORY_PRESSURE_FRACTION = 0.1;

/** True when the host is short of memory (or /proc/meminfo can't be read). */
export function underMemoryPressure(meminfo: () => string = () => readFileSync('/proc/meminfo', 'utf8')): boolean {
  try {
    const text = meminfo();
    const value = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    const total = value('MemTotal');
    const available = value('MemAvailable');
    if (!Number.isFinite(total) || !Number.isFinite(available)) return true;
    return available / total < MEMORY_PRESSURE_FRACTION;
  } catch {
    return true;
  }
}

/** How long after a checkout the pool refills when the checked-out sandbox runs nothing. */
export const REFILL_DELAY_MS = 1000;

/** One pool: ready sandboxes of a class and a refill loop. */
export class WarmPool {
  readonly key: string;
  readonly size: number;
  private readonly ready: PersistentSandbox[] = [];
  private readonly make: () => Promise<PersistentSandbox>;
  private readonly pressure: () => boolean;
  private readonly onChange: (ready: number) => void;
  private readonly refillDelayMs: number;
  private filling: Promise<void> | undefined;
  private delayed: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    key: string,
    size: number,
    make: () => Promise<PersistentSandbox>,
    options: { pressure?: () => boolean; onChange?: (ready: number) => void; refillDelayMs?: number } = {},
  ) {
    this.key = key;
    this.size = size;
    this.make = make;
    this.pressure = options.pressure ?? (() => underMemoryPressure());
    this.onChange = options.onChange ?? (() => undefined);
    this.refillDelayMs = options.refillDelayMs ?? REFILL_DELAY_MS;
  }

  get readyCount(): number {
    return this.ready.length;
  }

  /**
   * Hands out a ready sandbox (never to be returned), or undefined. The pool refills once the
   * caller reports the checkout's first command done ({@link checkoutUsed}), or after the delay.
   */
  take(): PersistentSandbox | undefined {
    const sandbox = this.ready.shift();
    if (sandbox !== undefined) this.onChange(this.ready.length);
    if (this.delayed === undefined && !this.closed) {
      this.delayed = setTimeout(() => this.refill(), this.refillDelayMs);
    }
    return sandbox;
  }

  /** A checked-out sandbox's first command has finished: refill now. */
  checkoutUsed(): void {
    this.refill();
  }

  /** Starts filling up to `size` unless already filling, closed, or under memory pressure. */
  refill(): void {
    clearTimeout(this.delayed);
    this.delayed = undefined;
    if (this.filling !== undefined || this.closed) return;
    this.filling = this.fillLoop().finally(() => (this.filling = undefined));
  }

  private async fillLoop(): Promise<void> {
    let failures = 0;
    while (!this.closed && this.ready.length < this.size && failures < 3) {
      if (this.pressure()) {
        await this.shrink();
        return;
      }
      try {
        const sandbox = await this.make();
        if (this.closed) {
          await sandbox.end('shutdown');
          return;
        }
        // A pooled sandbox that dies while waiting leaves the pool.
        sandbox.onEnd(() => this.remove(sandbox));
        this.ready.push(sandbox);
        this.onChange(this.ready.length);
      } catch {
        failures++;
      }
    }
  }

  /** Ends idle members when memory is short: a pool must never push the host into OOM. */
  async shrink(): Promise<void> {
    const idle = this.ready.splice(0);
    this.onChange(0);
    await Promise.all(idle.map((s) => s.end('shutdown')));
  }

  private remove(sandbox: PersistentSandbox): void {
    const i = this.ready.indexOf(sandbox);
    if (i >= 0) {
      this.ready.splice(i, 1);
      this.onChange(this.ready.length);
    }
  }

  /** Stops refilling, waits for a sandbox being started, and ends every idle member. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.delayed);
    this.delayed = undefined;
    await this.filling;
    await this.shrink();
  }
}
