/** Completed runs per second of `fn` run back to back on `workers` workers for `seconds`. */
export async function rate(workers: number, seconds: number, fn: () => Promise<void>, onFailure: () => void): Promise<number> {
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
  return done / ((performance.now() - t0) / 1000);
}
