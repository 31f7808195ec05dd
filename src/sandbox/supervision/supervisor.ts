/**
 * Watches running sandboxes for the runner, for every driver alike: the limit counters through the
 * driver's kernel events (`Sandbox.watchLimits`), and whatever has no event through one shared
 * sampler. An idle sandbox whose events are armed costs nothing: no timer, no read.
 *
 * Fails closed: a sandbox whose event sources are missing, can't be set up or stop working is
 * sampled (`stats()` at {@link LIMIT_SAMPLE_MS}), never left unwatched, and the reason is reported.
 */
import type { LimitWatch, ResourceSample, Sandbox } from '../../isolation/driver.ts';
import { SharedSampler, type RemoveEntry } from './sampler.ts';

/** The sampler's tick: the finest cadence of any sampled entry (each wake-up has a cost of its own). */
const TICK_MS = 125;
/** How often limit counters without an event source are read (today's per-sandbox cadence). */
export const LIMIT_SAMPLE_MS = 250;
/** How often a running one-shot's other facets (scratch, descriptors) are sampled. */
export const FULL_SAMPLE_MS = 125;
/** Distinct fallback reasons remembered, so that one missing source is reported once, not per sandbox. */
const MAX_REPORTED = 256;

export interface SupervisorOptions {
  /** Told when a sandbox is sampled because an event source is missing or failed (each reason once). */
  onFallback?: (sandboxId: string, reason: string) => void;
  /** The shared sampler's tick (tests). */
  tickMs?: number;
}

export interface SuperviseOptions {
  /** Each sample read, after an event or a tick; never called once the supervision is stopped. */
  onSample(sample: ResourceSample): void;
  /**
   * Also sample what no event reports (scratch fullness, descriptors at RLIMIT_NOFILE: sticky
   * flags of `stats()`) every {@link FULL_SAMPLE_MS}, for a one-shot while its command runs.
   */
  sampleAll?: boolean;
  /**
   * Arm the driver's events (default). A lone one-shot with `sampleAll` may do without: for one
   * run, starting an event helper costs more than sampling saves.
   */
  events?: boolean;
}

/** One sandbox under supervision. */
export interface Supervision {
  /** Disarms its events and leaves the sampler; idempotent. */
  stop(): void;
}

/** The supervision of every sandbox of one controller (or of one run, for a lone one-shot). */
export class Supervisor {
  private readonly sampler: SharedSampler;
  private readonly tickMs: number;
  private readonly onFallback: (sandboxId: string, reason: string) => void;
  private readonly reported = new Set<string>();

  constructor(options: SupervisorOptions = {}) {
    this.tickMs = options.tickMs ?? TICK_MS;
    this.sampler = new SharedSampler(this.tickMs);
    this.onFallback = options.onFallback ?? (() => undefined);
  }

  /** Entries the shared sampler runs (each a sandbox, or a facet of one, that has no event). */
  get sampled(): number {
    return this.sampler.size;
  }

  /** Starts supervising `sandbox` (started); `options.onSample` gets every sample read. */
  supervise(sandbox: Sandbox, options: SuperviseOptions): Supervision {
    const state = { stopped: false, reading: false, again: false, fellBack: false };
    const removals: RemoveEntry[] = [];
    let watch: LimitWatch | undefined;
    const every = (ms: number) => Math.max(1, Math.round(ms / this.tickMs));
    // One read at a time per sandbox; events arriving meanwhile ask for one more read after it.
    const check = (): void => {
      if (state.stopped) return;
      if (state.reading) {
        state.again = true;
        return;
      }
      state.reading = true;
      void sandbox.stats().then(
        (sample) => {
          if (!state.stopped) options.onSample(sample);
        },
        // The sandbox is going away: its end is decided elsewhere.
        () => undefined,
      ).finally(() => {
        state.reading = false;
        if (state.again) {
          state.again = false;
          check();
        }
      });
    };
    // Why: limits no event reports are still read, at the shared cadence (fail closed); so is a
    // sandbox whose events are not armed yet (its helper may still be building).
    let sampling: RemoveEntry | undefined;
    const sampleLimits = () => {
      if (options.sampleAll !== true && !state.stopped) sampling ??= this.sampler.add(every(LIMIT_SAMPLE_MS), check);
    };
    const fallBack = (reason: string): void => {
      if (state.stopped || state.fellBack) return;
      state.fellBack = true;
      this.report(sandbox.id, reason);
      sampleLimits();
      check();
    };
    if (options.sampleAll === true) removals.push(this.sampler.add(every(FULL_SAMPLE_MS), check));
    sampleLimits();
    if (options.events === false && options.sampleAll === true) {
      // Sampled in full already: nothing to arm.
    } else if (sandbox.watchLimits === undefined) {
      fallBack(`the ${sandbox.runtime} driver has no limit events`);
    } else {
      sandbox.watchLimits({ changed: check, failed: fallBack }).then(
        (armed) => {
          if (state.stopped) return armed.close();
          watch = armed;
          if (!state.fellBack) {
            sampling?.();
            sampling = undefined;
          }
          if (armed.polled !== undefined) {
            this.report(sandbox.id, armed.polled);
            removals.push(this.sampler.add(every(LIMIT_SAMPLE_MS), () => armed.poll()));
          }
          // A limit hit before the events were armed is read now.
          check();
        },
        (err: unknown) => fallBack((err as Error).message),
      );
    }
    return {
      stop: () => {
        if (state.stopped) return;
        state.stopped = true;
        sampling?.();
        for (const remove of removals) remove();
        watch?.close();
      },
    };
  }

  /** Stops the shared sampler (every supervision's sampled entries with it). */
  close(): void {
    this.sampler.close();
  }

  private report(sandboxId: string, reason: string): void {
    if (this.reported.has(reason)) return;
    if (this.reported.size < MAX_REPORTED) this.reported.add(reason);
    this.onFallback(sandboxId, reason);
  }
}
