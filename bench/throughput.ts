/**
 * Sustained one-shots per second (`/bin/true` on `namespace`, two workers per core, each starting
 * the next run as soon as its last one ended): the raw bubblewrap line the driver generates (the
 * engine's ceiling), `executeOnce` through the library, and POST /api/v1/sandbox/execute over
 * loopback HTTP from a client process of its own (bench/http-load.ts). The three take turns in
 * rounds of equal windows, so machine noise hits them alike. Each window also records the host's
 * CPU time per run (every core, from /proc/stat; the HTTP client's own CPU left out): on a host
 * where the engine alone saturates the CPUs, that is what decides how many runs fit.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
import { rate, type Rate } from './rate.ts';
import { spawnCostFresh, spawnCostHere, type SpawnCost } from './spawn-cost.ts';

const execFileAsync = promisify(execFile);
const httpLoad = join(dirname(fileURLToPath(import.meta.url)), 'http-load.ts');

export interface ThroughputBench {
  cores: number;
  workers: number;
  windowSeconds: number;
  /** Runs per second (all cores together), one entry per round. */
  perSecond: { raw: number[]; library: number[]; http: number[] };
  /** Median over rounds of each path's rate divided by raw bwrap's rate in the same round. */
  ratio: { library: number; http: number };
  /** Host CPU milliseconds (all cores) per completed run, one entry per round. */
  cpuMsPerRun: { raw: number[]; library: number[]; http: number[] };
  /** Median over rounds of each path's CPU per run divided by raw bwrap's in the same round. */
  cpuRatio: { library: number; http: number };
  /**
   * One spawn of /bin/true from the controller (this process, right after the load, service and
   * server still up) and from a fresh Node process, measured in turns: what the controller's size
   * adds to every sandbox launch.
   */
  spawn: { controller: SpawnCost[]; fresh: SpawnCost[] };
  /** Runs that failed (a non-zero exit, an HTTP error): must be 0. */
  failures: number;
  leftovers: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** CPU time the host spent busy (user, nice, system, irq, softirq; all cores), in milliseconds since boot. */
function hostBusyMs(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
  return ((user + nice + system + irq + softirq) * 1000) / 100;
}

/** One window: its rate, and the host CPU per run (less `excludedMs`, CPU spent by the load client). */
async function measured(window: () => Promise<Rate & { excludedMs?: number }>): Promise<{ perSecond: number; cpuMsPerRun: number }> {
  const before = hostBusyMs();
  const r = await window();
  return { perSecond: r.perSecond, cpuMsPerRun: (hostBusyMs() - before - (r.excludedMs ?? 0)) / Math.max(1, r.runs) };
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
  /** One window of HTTP load from a client process of its own (bench/http-load.ts). */
  const httpRate = async (seconds: number, onFailure: () => void): Promise<Rate & { excludedMs: number }> => {
    const { stdout } = await execFileAsync(process.execPath, [httpLoad, `${url}/api/v1/sandbox/execute`, String(workers), String(seconds), body]);
    const out = JSON.parse(stdout) as { perSecond: number; runs: number; failures: number; clientCpuMs: number };
    for (let i = 0; i < out.failures; i++) onFailure();
    return { perSecond: out.perSecond, runs: out.runs, excludedMs: out.clientCpuMs };
  };
  const perSecond: ThroughputBench['perSecond'] = { raw: [], library: [], http: [] };
  const cpuMsPerRun: ThroughputBench['cpuMsPerRun'] = { raw: [], library: [], http: [] };
  const spawnCost: ThroughputBench['spawn'] = { controller: [], fresh: [] };
  const record = (path: keyof ThroughputBench['perSecond'], m: { perSecond: number; cpuMsPerRun: number }) => {
    perSecond[path].push(m.perSecond);
    cpuMsPerRun[path].push(m.cpuMsPerRun);
  };
  try {
    // One short untimed window each: the first runs pay for module and code warm-up.
    for (const fn of [raw, library]) await rate(workers, 1, fn, () => undefined);
    await httpRate(1, () => undefined);
    for (let i = 0; i < rounds; i++) {
      record('raw', await measured(() => rate(workers, windowSeconds, raw, failed)));
      record('library', await measured(() => rate(workers, windowSeconds, library, failed)));
      record('http', await measured(() => httpRate(windowSeconds, failed)));
    }
    for (let i = 0; i < 2; i++) {
      spawnCost.controller.push(await spawnCostHere(200));
      spawnCost.fresh.push(await spawnCostFresh(200));
    }
  } finally {
    await app.close();
    await service.shutdown();
    await network.close();
  }
  const ratios = (xs: number[], base: number[] = perSecond.raw) => median(xs.map((x, i) => x / (base[i] as number)));
  return {
    cores,
    workers,
    windowSeconds,
    perSecond,
    ratio: { library: ratios(perSecond.library), http: ratios(perSecond.http) },
    cpuMsPerRun,
    cpuRatio: { library: ratios(cpuMsPerRun.library, cpuMsPerRun.raw), http: ratios(cpuMsPerRun.http, cpuMsPerRun.raw) },
    spawn: spawnCost,
    failures,
    leftovers: findLeftovers(config).length,
  };
}
