/** What a window of {@link rate} did: completed runs, and runs per second. */
export interface Rate {
  runs: number;
  perSecond: number;
}

/** Completed runs (and per second) of `fn` run back to back on `workers` workers for `seconds`. */
export async function rate(workers: number, seconds: number, fn: () => Promise<void>, onFailure: () => void): Promise<Rate> {
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        try {
          await fn();
          done++;
        } catch {
          onFailure();
        }
      }
    }),
  );
  return { runs: done, perSecond: done / ((performance.now() - t0) / 1000) };
}
