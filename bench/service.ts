/**
 * Service-level benchmarks (B = this process spawning /bin/true on the host):
 * exec in a running sandbox, HTTP overhead of POST /execute (pool checkout: bench/pool.ts),
 * sustained creation rate, and 50 simultaneous creates.
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
import { ServiceError } from '../src/sandbox/errors.ts';
import { buildApp } from '../src/api/app.ts';
import { findLeftovers } from '../src/isolation/leftovers.ts';
import { spawnWait } from './spawn-wait.ts';
import { driverCycle, specMaker } from './driver-cycle.ts';
import { summarize, timePaired, type Summary } from './stats.ts';
import type { PairResult } from './namespace.ts';
import { createLoopbackAccess } from '../src/admission/loopback-access.ts';
import { findExecutable } from '../src/host/which.ts';

export interface ServiceBench {
  pairs: PairResult[];
  creationRate: { sandboxes: number; seconds: number; perSecondPerCore: number; leftovers: number };
  simultaneous: { requested: number; created: number; refused429: number; failed: number; latency: Summary };
}

const execTrue = async (service: SandboxService, id: string) => {
  const session = await service.exec(id, { argv: ['/bin/true'], env: {}, stdin: false, timeoutMs: 10_000 });
  await session.result;
};
const hostTrue = () => spawnWait('/bin/true', []);

export async function benchService(config: AirlockConfig, image: Image, n: number): Promise<ServiceBench> {
  const pools: AirlockConfig['service']['pools'] = [];
  const service = new SandboxService({ config: { ...config, service: { ...config.service, pools, maxSandboxes: 64 } }, policyBundleHash: await readBundleHash(policyDirOf(config.policy)) });
  await service.start();
  const pairs: PairResult[] = [];
  try {
    // gVisor only where runsc is installed: its exec pays the sandbox kernel's fork and exec.
    for (const runtime of findExecutable('runsc') === undefined ? (['namespace'] as const) : (['namespace', 'gvisor'] as const)) {
      const running = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [] });
      const [exec, host] = await timePaired(runtime === 'gvisor' ? Math.min(n, 100) : n, 10, () => execTrue(service, running.sandbox_id), hostTrue);
      pairs.push({ name: `exec /bin/true in a running ${runtime} sandbox`, subject: summarize(exec), baseline: summarize(host), subjectLabel: 'agent exec', baselineLabel: 'B: host spawn' });
      await service.kill(running.sandbox_id);
    }

    pairs.push(await httpOverhead(service, config, image, Math.min(n, 100)));
    const simultaneous = await fiftyCreates(service);
    await service.shutdown();
    // Measured with the service (and its pool) gone, so leftovers count only what the run left.
    const creationRate = await sustainedCreation(config, image);
    return { pairs, creationRate, simultaneous };
  } finally {
    await service.shutdown();
  }
}

/** POST /api/v1/sandbox/execute over loopback HTTP against executeOnce on the driver, alternately. */
async function httpOverhead(service: SandboxService, config: AirlockConfig, image: Image, n: number): Promise<PairResult> {
  const app = buildApp({ service, access: await createLoopbackAccess({ config }), limits: { defaults: config.defaults, maxima: config.maxima } });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const driver = new NamespaceDriver({ config });
  const network = new NetworkManager({ config });
  const body = JSON.stringify({ agent_id: 'bench', command: ['/bin/true'] });
  try {
    const viaHttp = async () => {
      const res = await fetch(`${url}/api/v1/sandbox/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      await res.json();
    };
    const direct = async () => {
      await executeOnce({ image, limits: config.defaults, env: { ...BASE_ENV }, mounts: [], workdir: '/tmp', argv: ['/bin/true'] }, { driver, network, policyHash: service.policyHash });
    };
    const [http, raw] = await timePaired(n, 5, viaHttp, direct);
    return { name: 'POST /execute (/bin/true) over HTTP vs driver', subject: summarize(http), baseline: summarize(raw), subjectLabel: 'HTTP', baselineLabel: 'executeOnce' };
  } finally {
    await app.close();
    await network.close();
  }
}

/** 50 creates at once: each succeeds or is refused with 429; none fails otherwise. */
async function fiftyCreates(service: SandboxService): Promise<ServiceBench['simultaneous']> {
  const latencies: number[] = [];
  let refused = 0;
  let failed = 0;
  const ids: string[] = [];
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      const t0 = performance.now();
      try {
        const info = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [] });
        ids.push(info.sandbox_id);
        latencies.push(performance.now() - t0);
      } catch (err) {
        if (err instanceof ServiceError && err.code === 'capacity_exceeded') refused++;
        else failed++;
      }
    }),
  );
  await Promise.all(ids.map((id) => service.kill(id)));
  return { requested: 50, created: ids.length, refused429: refused, failed, latency: summarize(latencies) };
}

/** Driver-level create → run /bin/true → destroy, two at a time per core, for about 5 seconds. */
async function sustainedCreation(config: AirlockConfig, image: Image): Promise<ServiceBench['creationRate']> {
  const driver = new NamespaceDriver({ config });
  const cores = cpus().length;
  let made = 0;
  const spec = specMaker(config, image, 'rate');
  const deadline = performance.now() + 5000;
  const t0 = performance.now();
  const worker = async () => {
    while (performance.now() < deadline) {
      await driverCycle(driver, spec());
      made++;
    }
  };
  await Promise.all(Array.from({ length: cores * 2 }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { sandboxes: made, seconds, perSecondPerCore: made / seconds / cores, leftovers: findLeftovers(config).length };
}
