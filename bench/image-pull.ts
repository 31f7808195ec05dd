/**
 * `image pull` against the raw tools doing the same work: an image of `mib` MiB of incompressible
 * files (one layer, built here, pushed by skopeo to Debian's docker-registry on loopback), pulled
 * `n` times by airlock (download, verify every blob as it streams, flatten, hash, store) and by
 * `skopeo copy docker://… oci:DIR` (download, verify) followed by `tar -x` of the layer, alternating.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../src/config/config.ts';
import { pullImage } from '../src/images/registry/pull.ts';
import { SKOPEO_BIN, registrySkipReason, skopeoPush, startRegistry, writeDockerArchive } from '../test/integration/registry/fixture.ts';
import { summarize, type Summary } from './stats.ts';

export interface ImagePullBench {
  mib: number;
  files: number;
  airlockMs: Summary;
  rawMs: Summary;
  ratio: number;
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
}

/** Pulls a `mib` MiB image `n` times each way; throws when the registry tools are missing. */
export async function benchImagePull(n: number, mib = 128): Promise<ImagePullBench> {
  const skip = registrySkipReason();
  if (skip !== false) throw new Error(`image-pull bench: ${skip}`);
  const work = await mkdtemp(join(tmpdir(), 'airlock-bench-pull-'));
  const registry = await startRegistry();
  try {
    const files: Record<string, Buffer | string> = { 'etc/': '', 'data/': '' };
    const fileMib = 4;
    for (let i = 0; i < mib / fileMib; i++) files[`data/f${i}`] = randomBytes(fileMib * 2 ** 20);
    const archive = join(work, 'image.tar');
    await writeDockerArchive(archive, files, 'bench/pull:v1');
    const ref = `${registry.host}/bench/pull:v1`;
    skopeoPush(archive, ref);
    await rm(archive);
    const airlock: number[] = [];
    const raw: number[] = [];
    for (let i = 0; i < n; i++) {
      const stateDir = join(work, `state-${i}`);
      let t0 = performance.now();
      await pullImage(configSchema.parse({ stateDir }), ref, { insecureRegistry: true, name: 'bench' });
      airlock.push(performance.now() - t0);
      await rm(stateDir, { recursive: true, force: true });

      const layout = join(work, `oci-${i}`);
      const out = join(work, `rootfs-${i}`);
      t0 = performance.now();
      run(SKOPEO_BIN, ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${layout}:v1`]);
      await mkdir(out);
      const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      const manifest = JSON.parse(await readFile(join(layout, 'blobs', 'sha256', (index.manifests[0]?.digest ?? '').slice(7)), 'utf8')) as { layers: { digest: string }[] };
      for (const layer of manifest.layers) run('tar', ['-xf', join(layout, 'blobs', 'sha256', layer.digest.slice(7)), '-C', out]);
      raw.push(performance.now() - t0);
      if ((await readdir(join(out, 'data'))).length !== mib / fileMib) throw new Error('the raw extraction is incomplete');
      await rm(layout, { recursive: true, force: true });
      await rm(out, { recursive: true, force: true });
    }
    const a = summarize(airlock);
    const r = summarize(raw);
    return { mib, files: mib / fileMib, airlockMs: a, rawMs: r, ratio: a.p50 / r.p50 };
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** The report lines. */
export function imagePullLines(b: ImagePullBench): string[] {
  const f = (x: number) => x.toFixed(0);
  return [
    `Image pull from a loopback registry (${b.mib} MiB in ${b.files} incompressible files, one layer), ms p50 (min–max, n ${b.airlockMs.n}):`,
    `- airlock image pull (download + verify + flatten + hash + store) ${f(b.airlockMs.p50)} (${f(b.airlockMs.min)}–${f(b.airlockMs.max)}); skopeo copy to an OCI layout + tar -x ${f(b.rawMs.p50)} (${f(b.rawMs.min)}–${f(b.rawMs.max)}); ratio ${b.ratio.toFixed(2)}×`,
  ];
}
