/**
 * What one scheduled image re-verification costs the controller: the full verification
 * (verifyImage: re-walk, re-hash every file, compare with the manifest) of the default image,
 * wall time and the hashing part, repeated `n` times after one warm-up (a warm page cache, as on
 * a controller whose sandboxes read the image all the time).
 */
import type { AirlockConfig } from '../src/config/config.ts';
import { verifyImage } from '../src/images/verify.ts';
import { summarize, type Summary } from './stats.ts';

export interface ImageReverifyBench {
  image: string;
  files: number;
  mib: number;
  wallMs: Summary;
  hashMs: Summary;
}

/** Verifies `config`'s default image `n` times (after one warm-up). */
export async function benchImageReverify(config: AirlockConfig, n: number): Promise<ImageReverifyBench> {
  const first = await verifyImage(config, config.defaultImage);
  const wall: number[] = [];
  const hash: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await verifyImage(config, config.defaultImage);
    wall.push(performance.now() - t0);
    hash.push(r.hashMs);
  }
  return { image: `${first.name} (${first.digest.slice(0, 19)}…)`, files: first.files, mib: first.totalBytes / 2 ** 20, wallMs: summarize(wall), hashMs: summarize(hash) };
}

/** The report lines. */
export function imageReverifyLines(r: ImageReverifyBench): string[] {
  const f = (x: number) => x.toFixed(0);
  return [
    `Scheduled image re-verification (full verify of ${r.image}: ${r.files} files, ${r.mib.toFixed(1)} MiB), ms p50 (min–max, n ${r.wallMs.n}):`,
    `- wall ${f(r.wallMs.p50)} (${f(r.wallMs.min)}–${f(r.wallMs.max)}); hashing ${f(r.hashMs.p50)} (${f(r.hashMs.min)}–${f(r.hashMs.max)})`,
  ];
}
