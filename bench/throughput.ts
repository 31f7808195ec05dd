/**
 * Sustained one-shots per second (`/bin/true` on `namespace`, two workers per core, each starting
 * the next run as soon as its last one ended): the raw bubblewrap line the driver generates (the
 * engine's ceiling), `executeOnce` through the library, and POST /api/v1/sandbox/execute over
 * loopback HTTP. The three take turns in rounds of equal windows, so machine noise hits them alike.
 */
import { cpus } from 'node:os';
import type { AirlockConfig } from '../src/config/config.ts';
import type { Image } from '../src/images/image.ts';
import { NamespaceDriver } from '../src/isolation/namespace/driver.ts';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';
import { executeOnce } from '../src/sandbox/execute.ts';
import { NetworkManager } from '../src/network/manager.ts';
import { BASE_ENV } from '../src/sandbox/prepare.ts';
import { buildApp } from '../src/api/app.ts';
import { createLoopbackAccess } from '../src/admission/loopback-access.ts';
import { findLeftovers } from '../src/isolation/leftovers.ts';
import { rawBwrapRunner } from './namespace.ts';
import { specMaker } from './driver-cycle.ts';

export interface ThroughputBench {
  cores: number;
  workers: number;
  windowSeconds: number;
  /** Runs per second (all cores together), one entry per round. */
  perSecond: { raw: number[]; library: number[]; http: number[] };
  /** Median over rounds of each path's rate divided by raw bwrap's rate in the same round. */
  ratio: { library: number; http: number };
  /** Runs that failed (a non-zero exit, an HTTP error): must be 0. */
  failures: number;
  leftovers: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Runs `fn` back to back on `workers` workers for `seconds`; returns completed runs per second. */
async function rate(workers: number, seconds: number, fn: () => Promise<void>, onFailure: () => void): Promise<number> {
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

export async function benchThroughput(config: AirlockConfig, image: Image, rounds = 3, windowSeconds = 4): Promise<ThroughputBench> {
  const cores = cpus().length;
  const workers = cores * 2;
  const spec = specMaker(config, image, 'rate');
  const raw = rawBwrapRunner(config, spec());
  const driver = new NamespaceDriver({ config });
  const network = new NetworkManager({ config });
  const service = new SandboxService({
    config: { ...config, service: { ...config.service, pools: [], maxSandboxes: Math.max(config.service.maxSandboxes, workers * 2) } },
    policyBundleHash: await readBundleHash(policyDirOf(config.policy)),
  });
  await service.start();
  const app = buildApp({ service, access: await createLoopbackAccess({ config }), limits: { defaults: config.defaults, maxima: config.maxima } });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  let failures = 0;
  const failed = () => void failures++;
  const library = async () => {
    const r = await executeOnce({ image, limits: config.defaults, env: { ...BASE_ENV }, mounts: [], workdir: '/tmp', argv: ['/bin/true'] }, { driver, network, policyHash: service.policyHash });
    if (r.exit_code !== 0) throw new Error(r.termination_reason);
  };
  const body = JSON.stringify({ agent_id: 'bench', command: ['/bin/true'] });
  const http = async () => {
    const res = await fetch(`${url}/api/v1/sandbox/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const result = (await res.json()) as { exit_code?: number };
    if (!res.ok || result.exit_code !== 0) throw new Error(`HTTP ${res.status}`);
  };
  const perSecond: ThroughputBench['perSecond'] = { raw: [], library: [], http: [] };
  try {
    // One short untimed window each: the first runs pay for module and code warm-up.
    for (const fn of [raw, library, http]) await rate(workers, 1, fn, () => undefined);
    for (let i = 0; i < rounds; i++) {
      perSecond.raw.push(await rate(workers, windowSeconds, raw, failed));
      perSecond.library.push(await rate(workers, windowSeconds, library, failed));
      perSecond.http.push(await rate(workers, windowSeconds, http, failed));
    }
  } finally {
    await app.close();
    await service.shutdown();
    await network.close();
  }
  const ratios = (xs: number[]) => median(xs.map((x, i) => x / (perSecond.raw[i] as number)));
  return {
    cores,
    workers,
    windowSeconds,
    perSecond,
    ratio: { library: ratios(perSecond.library), http: ratios(perSecond.http) },
    failures,
    leftovers: findLeftovers(config).length,
  };
}
