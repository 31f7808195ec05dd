/**
 * What idle gVisor sandboxes cost the controller: N persistent gVisor sandboxes are created through
 * the service and left idle (their agent waits for requests), then over a window the controller's
 * CPU is read (its own utime+stime and its reaped children's: anything spawned per poll shows up
 * there), with the sandboxes' own host CPU and memory read from their cgroups. Create and exec
 * p50 are timed with none idle and again with the N idle, in the same run.
 */
import { readFileSync } from 'node:fs';
import { isolatedConfig } from '../test/security/lib/isolated-config.ts';
import { releaseBenchConfig } from './config.ts';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';
import { detectCgroups, readKeyedCounter } from '../src/isolation/cgroups/index.ts';
import { controllerTicks, createExec, USER_HZ } from './idle-parts.ts';
import { summarize, type Summary } from './stats.ts';

export interface IdleBench {
  idle: number;
  windowSeconds: number;
  /** The controller process: own CPU plus children it reaped in the window, % of one core. */
  serverCpuPercent: number;
  /** Every idle sandbox's host processes (sandbox kernel, gofer), from their cgroups, % of one core. */
  sandboxesCpuPercent: number;
  /** Charged to the sandboxes' cgroups, per sandbox (MiB). */
  cgroupMemoryPerSandboxMiB: number;
  /** Drop of the host's MemAvailable while they were created, per sandbox (MiB). */
  hostMemoryPerSandboxMiB: number;
  createNone: Summary;
  createIdle: Summary;
  execNone: Summary;
  execIdle: Summary;
}

const create = { runtime: 'gvisor' as const, limits: {}, metadata: {}, env: {}, mounts: [] };

/** CPU nanoseconds and memory bytes charged to every sandbox under the configuration's cgroup parent. */
function parentUsage(parent: string): { cpuNanos: number; memoryBytes: number } {
  const layout = detectCgroups();
  if (layout.version === 2) {
    const dir = `${layout.mountPoint}/${parent}`;
    return { cpuNanos: readKeyedCounter(readFileSync(`${dir}/cpu.stat`, 'utf8'), 'usage_usec') * 1000, memoryBytes: Number(readFileSync(`${dir}/memory.current`, 'utf8')) };
  }
  return {
    cpuNanos: Number(readFileSync(`${layout.mounts.cpuacct}/${parent}/cpuacct.usage`, 'utf8')),
    memoryBytes: Number(readFileSync(`${layout.mounts.memory}/${parent}/memory.usage_in_bytes`, 'utf8')),
  };
}

function memAvailable(): number {
  return readKeyedCounter(readFileSync('/proc/meminfo', 'utf8').replace(/:/g, ''), 'MemAvailable') * 1024;
}

/**
 * Runs the bench with `idle` sandboxes held, on a configuration of its own (own cgroup parent,
 * state and run directories), so the cgroup figures are the bench's sandboxes alone.
 */
export async function benchGvisorIdle(idle: number, samples: number, windowSeconds: number): Promise<IdleBench> {
  const config = isolatedConfig();
  try {
    return await measure(config, idle, samples, windowSeconds);
  } finally {
    releaseBenchConfig(config);
  }
}

async function measure(config: ReturnType<typeof isolatedConfig>, idle: number, samples: number, windowSeconds: number): Promise<IdleBench> {
  const service = new SandboxService({
    config: { ...config, service: { ...config.service, pools: [], maxSandboxes: idle + 8 } },
    policyBundleHash: await readBundleHash(policyDirOf(config.policy)),
  });
  await service.start();
  try {
    await createExec(service, create, 2);
    const none = await createExec(service, create, samples);
    const memBefore = memAvailable();
    const ids: string[] = [];
    // Two at a time: the service paces start-up itself, this only keeps the event loop busy enough.
    for (let i = 0; i < idle; i += 2) {
      const batch = await Promise.all(Array.from({ length: Math.min(2, idle - i) }, () => service.create(create)));
      ids.push(...batch.map((b) => b.sandbox_id));
    }
    // Let start-up settle (pool refills, boot CPU) before the window opens.
    await new Promise((r) => setTimeout(r, 5_000));
    const hostMemoryPerSandboxMiB = (memBefore - memAvailable()) / idle / 2 ** 20;
    const u0 = parentUsage(config.cgroupParent);
    const s0 = controllerTicks();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowSeconds * 1000));
    const seconds = (performance.now() - t0) / 1000;
    const s1 = controllerTicks();
    const u1 = parentUsage(config.cgroupParent);
    const busy = await createExec(service, create, samples);
    for (const id of ids) await service.kill(id);
    return {
      idle,
      windowSeconds: Number(seconds.toFixed(1)),
      serverCpuPercent: ((s1.own + s1.reaped - s0.own - s0.reaped) / USER_HZ / seconds) * 100,
      sandboxesCpuPercent: ((u1.cpuNanos - u0.cpuNanos) / 1e9 / seconds) * 100,
      cgroupMemoryPerSandboxMiB: u1.memoryBytes / idle / 2 ** 20,
      hostMemoryPerSandboxMiB,
      createNone: summarize(none.create),
      createIdle: summarize(busy.create),
      execNone: summarize(none.exec),
      execIdle: summarize(busy.exec),
    };
  } finally {
    await service.shutdown();
  }
}
