/** Percentiles and a one-line summary for benchmark samples (milliseconds). */

/** The q-quantile (0..1) of `samples` by nearest rank. */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

/** p50/p90/p95/p99/min/max of a sample set. */
export function summarize(samples: number[]): Summary {
  return { n: samples.length, p50: quantile(samples, 0.5), p90: quantile(samples, 0.9), p95: quantile(samples, 0.95), p99: quantile(samples, 0.99), min: Math.min(...samples), max: Math.max(...samples) };
}

/** Times `fn` `n` times after `warmup` untimed runs. */
export async function timeRuns(n: number, warmup: number, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** Runs two timed functions alternately so that machine noise hits both alike. */
export async function timePaired(n: number, warmup: number, a: () => Promise<void>, b: () => Promise<void>): Promise<[number[], number[]]> {
  for (let i = 0; i < warmup; i++) {
    await a();
    await b();
  }
  const sa: number[] = [];
  const sb: number[] = [];
  for (let i = 0; i < n; i++) {
    let t0 = performance.now();
    await a();
    sa.push(performance.now() - t0);
    t0 = performance.now();
    await b();
    sb.push(performance.now() - t0);
  }
  return [sa, sb];
}
