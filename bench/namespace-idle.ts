/**
 * What idle namespace sandboxes cost the controller: persistent sandboxes are created through the
 * service and left idle (their agent waits for requests), in steps (e.g. 500, then 1,000); at each
 * step the controller's CPU is read over a window (its own utime+stime, the children it reaped, and
 * its live children's: the v1 OOM event helper), and create and exec p50 are timed against the
 * same with none idle, in the same run. With them, a plain spawn of /bin/true from the controller
 * and its descriptors and memory: every launch forks the controller, and that fork's cost grows
 * with what it holds (the main share of create's growth, measured 2026-12-06). Runs on a
 * configuration of its own (own state, run directory, cgroup parent, uid range), so nothing live
 * is touched.
 * Usage: node bench/namespace-idle.ts [steps=500,1000] [samples=30] [window-seconds=30] [drift-check-ms]
 * (the last sets `network.driftCheckMs`: the drift watch's full comparison of every sandbox is a
 * cost of its own, which a long interval keeps out of the window)
 * AIRLOCK_BENCH_NETWORK=restricted gives every sandbox a network slot (veth, nft table, proxy), so
 * the drift watch has host-side state and slot events to follow; the default is `none`.
 */
import { loadavg } from 'node:os';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';
import { isolatedConfig } from '../test/security/lib/isolated-config.ts';
import { releaseBenchConfig } from './config.ts';
import { controllerFootprint, cpuWindow, createExec, spawnTrue } from './idle-parts.ts';
import { summarize, type Summary } from './stats.ts';

export interface IdleStep {
  idle: number;
  windowSeconds: number;
  /** Controller CPU over the window, % of one core: own, reaped children, live children. */
  serverCpuPercent: { own: number; reaped: number; live: number; total: number };
  create: Summary;
  exec: Summary;
  /** p50 with this many idle ÷ p50 with none. */
  createRatio: number;
  execRatio: number;
  /** A plain spawn of /bin/true from the controller (each launch forks it the same way), and its p50 ratio. */
  spawnTrue: Summary;
  spawnRatio: number;
  controller: ReturnType<typeof controllerFootprint>;
  load: number[];
}

export interface NamespaceIdleBench {
  none: { create: Summary; exec: Summary; spawnTrue: Summary; controller: IdleStep['controller']; serverCpuPercent: IdleStep['serverCpuPercent']; load: number[] };
  steps: IdleStep[];
  /** Seconds it took to create each step's additional sandboxes. */
  createSeconds: number[];
}

const NETWORK = process.env['AIRLOCK_BENCH_NETWORK'] === 'restricted' ? { network: { mode: 'restricted' as const, allowedHosts: [], services: [] } } : {};
const create = { runtime: 'namespace' as const, limits: {}, metadata: {}, env: {}, mounts: [], ...NETWORK };

const load = () => loadavg().map((x) => Number(x.toFixed(2)));

/** Holds `steps` idle sandboxes in turn (ascending) and measures at each. */
export async function benchNamespaceIdle(steps: number[], samples: number, windowSeconds: number, driftCheckMs?: number): Promise<NamespaceIdleBench> {
  const max = Math.max(...steps);
  const config = isolatedConfig({ service: { maxSandboxes: max + 8 }, ...(driftCheckMs === undefined ? {} : { network: { driftCheckMs } }) });
  const service = new SandboxService({ config, policyBundleHash: await readBundleHash(policyDirOf(config.policy)) });
  const ids: string[] = [];
  try {
    await service.start();
    await createExec(service, create, 3);
    const base = await createExec(service, create, samples);
    const baseSpawn = summarize(await spawnTrue(samples));
    const baseCpu = await cpuWindow(Math.min(windowSeconds, 10));
    const none = { create: summarize(base.create), exec: summarize(base.exec), spawnTrue: baseSpawn, controller: controllerFootprint(), serverCpuPercent: baseCpu, load: load() };
    const result: NamespaceIdleBench = { none, steps: [], createSeconds: [] };
    for (const step of [...steps].sort((a, b) => a - b)) {
      const t0 = performance.now();
      // A few at a time: the service paces start-up itself.
      while (ids.length < step) {
        const batch = await Promise.all(Array.from({ length: Math.min(4, step - ids.length) }, () => service.create(create)));
        ids.push(...batch.map((b) => b.sandbox_id));
      }
      result.createSeconds.push(Number(((performance.now() - t0) / 1000).toFixed(1)));
      // Let start-up settle before the window opens.
      await new Promise((r) => setTimeout(r, 5_000));
      const cpu = await cpuWindow(windowSeconds);
      const timed = await createExec(service, create, samples);
      const c = summarize(timed.create);
      const e = summarize(timed.exec);
      // After the timed loop, so it never competes with it.
      const s = summarize(await spawnTrue(samples));
      result.steps.push({
        idle: step,
        windowSeconds: Number(cpu.seconds.toFixed(1)),
        serverCpuPercent: { own: cpu.own, reaped: cpu.reaped, live: cpu.live, total: cpu.total },
        create: c,
        exec: e,
        createRatio: Number((c.p50 / none.create.p50).toFixed(2)),
        execRatio: Number((e.p50 / none.exec.p50).toFixed(2)),
        spawnTrue: s,
        spawnRatio: Number((s.p50 / none.spawnTrue.p50).toFixed(2)),
        controller: controllerFootprint(),
        load: load(),
      });
      process.stderr.write(`${JSON.stringify(result.steps.at(-1))}\n`);
    }
    return result;
  } finally {
    await service.shutdown();
    releaseBenchConfig(config);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const steps = (process.argv[2] ?? '500,1000').split(',').map(Number);
  const r = await benchNamespaceIdle(steps, Number(process.argv[3] ?? 30), Number(process.argv[4] ?? 30), process.argv[5] === undefined ? undefined : Number(process.argv[5]));
  console.log(JSON.stringify(r, null, 2));
}
