/**
 * Keeps sandbox start-up from holding the event loop. Starting a sandbox does a few milliseconds
 * of synchronous work on the loop thread (fork/exec of the launcher, cgroup and lease files);
 * a burst of requests arriving in one poll phase used to run all of it back to back, so `/health`
 * and 429 answers waited behind tens of starts. Here each start begins in a macrotask of its own
 * (so whatever is waiting on the loop is served between two starts) and at most `concurrency`
 * starts are in flight; later ones wait their turn without occupying the loop.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';

/** Hands out start-up turns one macrotask apart, at most `concurrency` at a time. */
export class StartQueue {
  readonly concurrency: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive whole number, got ${concurrency}`);
    this.concurrency = concurrency;
  }

  /**
   * Waits for a free turn, then for a fresh macrotask, and returns the function that ends the turn
   * (calling it twice ends it once). A caller ends its turn once its sandbox runs, or on failure.
   */
  async turn(): Promise<() => void> {
    if (this.#active >= this.concurrency) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active += 1;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      // The turn passes straight to the next waiter, so a newcomer can't overtake the queue.
      const next = this.#waiting.shift();
      if (next === undefined) this.#active -= 1;
      else next();
    };
    try {
      await nextMacrotask();
    } catch (err) {
      end();
      throw err;
    }
    return end;
  }

  /** Turns held now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a turn. */
  get waiting(): number {
    return this.#waiting.length;
  }
}
