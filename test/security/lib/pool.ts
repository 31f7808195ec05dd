/** Runs many sandboxes with bounded concurrency. */

/** Options of {@link runPool}. */
export interface PoolOptions {
  /** Most jobs in flight at once. */
  concurrency: number;
  /** Stop starting new jobs once this many milliseconds have passed (jobs in flight finish). */
  deadlineMs?: number;
}

/**
 * Calls `job(i)` for i in [0, count) with at most `concurrency` in flight; returns the results of
 * the jobs that ran, in index order (fewer than `count` when the deadline cut the run short).
 */
export async function runPool<T>(count: number, options: PoolOptions, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  const stopAt = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
  let next = 0;
  const lane = async () => {
    while (next < count && Date.now() < stopAt) {
      const i = next++;
      results[i] = await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, count) }, lane));
  return results.filter((r) => r !== undefined);
}
