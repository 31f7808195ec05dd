/**
 * `image import` against the raw tools doing the same work, measured in one run, alternately: an
 * OCI layout of the default image's rootfs (~250 MiB, two gzip layers: usr/ and the rest, packed
 * here with tar) imported by airlock (verify every blob as it streams, flatten with the hostile-
 * entry checks, sanitize, hash every file, store), against `sha256sum` of the layer blobs followed
 * by `tar -xzf` of each (baseline A), and A plus `sha256sum` of every extracted file (baseline B:
 * the hashing a content-addressed store needs). Then the cold start of the imported image against
 * the built one it came from: the same driver create → /bin/true → destroy cycle, alternately.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AirlockConfig } from '../src/config/config.ts';
import { configSchema } from '../src/config/config.ts';
import type { Image } from '../src/images/image.ts';
import { importImage } from '../src/images/oci/import.ts';
import { resolveImage } from '../src/images/store.ts';
import { NamespaceDriver } from '../src/isolation/namespace/driver.ts';
import { driverCycle, specMaker } from './driver-cycle.ts';
import { summarize, timePaired, type Summary } from './stats.ts';

export interface ImageImportBench {
  mib: number;
  blobMib: number;
  files: number;
  airlockMs: Summary;
  tarMs: Summary;
  tarHashMs: Summary;
  ratioTar: number;
  ratioTarHash: number;
  coldStart: { imported: Summary; built: Summary; ratio: number };
}

function run(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...(cwd !== undefined ? { cwd } : {}) });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** An OCI layout of `rootfs` in two gzip layers (usr/ and the rest); returns the layer blob paths. */
async function layoutOf(rootfs: string, dir: string): Promise<string[]> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const layers: { digest: string; size: number; diffId: string }[] = [];
  const paths: string[] = [];
  for (const [i, members] of [['./usr'], ['.', '--exclude=./usr']].entries()) {
    const tarPath = join(dir, `layer${i}.tar`);
    const args = members[0] === '.' ? ['-C', rootfs, '--numeric-owner', ...members.slice(1), '-cf', tarPath, '.'] : ['-C', rootfs, '--numeric-owner', '-cf', tarPath, ...members];
    run('tar', args);
    const diffId = await sha256File(tarPath);
    run('gzip', ['-1', tarPath]);
    const digest = await sha256File(`${tarPath}.gz`);
    const path = join(blobs, digest.slice(7));
    run('mv', [`${tarPath}.gz`, path]);
    layers.push({ digest, size: (await stat(path)).size, diffId });
    paths.push(path);
  }
  const put = async (doc: unknown): Promise<{ digest: string; size: number }> => {
    const bytes = Buffer.from(JSON.stringify(doc));
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    await writeFile(join(blobs, digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const config = await put({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/true'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } });
  const manifest = await put({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest }] }));
  return paths;
}

/** Imports the default image's rootfs `n` times each way, then compares cold starts (`starts` pairs). */
export async function benchImageImport(config: AirlockConfig, built: Image, n: number, starts: number): Promise<ImageImportBench> {
  const work = await mkdtemp(join(tmpdir(), 'airlock-bench-import-'));
  // The sandbox's unprivileged uid traverses it to reach the imported image's root.
  await chmod(work, 0o755);
  try {
    const layout = join(work, 'layout');
    const blobs = await layoutOf(built.rootfs, layout);
    let blobBytes = 0;
    for (const b of blobs) blobBytes += (await stat(b)).size;
    const airlock: number[] = [];
    const tar: number[] = [];
    const tarHash: number[] = [];
    let files = 0;
    let bytes = 0;
    let imported: Image | undefined;
    for (let i = 0; i < n; i++) {
      const stateDir = join(work, `state-${i}`);
      let t0 = performance.now();
      const r = await importImage(layout, { config: configSchema.parse({ stateDir }), name: 'bench' });
      airlock.push(performance.now() - t0);
      files = r.files;
      bytes = r.totalBytes;
      if (i === n - 1) imported = await resolveImage({ stateDir }, 'bench');
      else await rm(stateDir, { recursive: true, force: true });

      for (const withFileHashes of [false, true]) {
        const out = join(work, `raw-${i}-${String(withFileHashes)}`);
        t0 = performance.now();
        run('sha256sum', blobs);
        await mkdir(out);
        for (const b of blobs) run('tar', ['-xzf', b, '-C', out, '--numeric-owner']);
        if (withFileHashes) run('sh', ['-c', 'find . -type f -print0 | xargs -0 -n 512 sha256sum > /dev/null'], out);
        (withFileHashes ? tarHash : tar).push(performance.now() - t0);
        await rm(out, { recursive: true, force: true });
      }
    }
    if (imported === undefined) throw new Error('no import');
    const driver = new NamespaceDriver({ config });
    const importedSpec = specMaker(config, imported, 'bench-imported');
    const builtSpec = specMaker(config, built, 'bench-built');
    const [a, b] = await timePaired(starts, 5, () => driverCycle(driver, importedSpec()), () => driverCycle(driver, builtSpec()));
    const ai = summarize(airlock);
    const ta = summarize(tar);
    const th = summarize(tarHash);
    const ci = summarize(a);
    const cb = summarize(b);
    return {
      mib: bytes / 2 ** 20,
      blobMib: blobBytes / 2 ** 20,
      files,
      airlockMs: ai,
      tarMs: ta,
      tarHashMs: th,
      ratioTar: ai.p50 / ta.p50,
      ratioTarHash: ai.p50 / th.p50,
      coldStart: { imported: ci, built: cb, ratio: ci.p50 / cb.p50 },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The report lines. */
export function imageImportLines(r: ImageImportBench): string[] {
  const f = (x: number) => x.toFixed(0);
  const s = (x: Summary) => `${f(x.p50)} (${f(x.min)}–${f(x.max)})`;
  return [
    `Image import (OCI layout, 2 gzip layers, ${r.blobMib.toFixed(1)} MiB of blobs → ${r.mib.toFixed(1)} MiB in ${r.files} files), ms p50 (min–max, n ${r.airlockMs.n}):`,
    `- airlock importImage ${s(r.airlockMs)}; sha256sum blobs + tar -xzf ${s(r.tarMs)} (${r.ratioTar.toFixed(2)}×); the same + sha256sum of every file ${s(r.tarHashMs)} (${r.ratioTarHash.toFixed(2)}×)`,
    `- cold start (namespace driver create → /bin/true → destroy, n ${r.coldStart.imported.n}): imported ${r.coldStart.imported.p50.toFixed(2)} ms p50, built ${r.coldStart.built.p50.toFixed(2)} ms p50 (${r.coldStart.ratio.toFixed(2)}×)`,
  ];
}
