/**
 * How many idle namespace sandboxes one host holds, and what each costs in memory. Persistent
 * sandboxes are created through the service (their agent waits for requests) in steps, e.g. 500,
 * 1,000, 2,000; at each step memory per sandbox is read two ways:
 *
 * - from the cgroup: the sandboxes' parent cgroup (every sandbox's own cgroup is under it), its
 *   memory use and the anonymous (RSS) part of it, divided by the number held;
 * - from the host: the sandboxes' processes' proportional set size (PSS, shared pages split among
 *   their users), and the drop in MemAvailable since none were held (this includes what neither
 *   sees: kernel objects such as namespaces, page tables and pipes, but also whatever else the
 *   shared host did meanwhile), and the growth of the kernel's own memory (Slab, PageTables,
 *   KernelStack: namespaces, tasks, mounts, page tables), each divided by the number held. The controller's own RSS growth
 *   is shown apart.
 *
 * The cap (`service.maxSandboxes`) is raised for the bench; it runs on a configuration of its own
 * (own state and run directory, cgroup parent, uid range), so nothing live is touched. The host is
 * shared: the load averages are printed with each step.
 * Usage: node bench/density.ts [steps=500,1000,2000]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';
import { detectCgroups, readKeyedCounter, type CgroupLayout } from '../src/isolation/cgroups/index.ts';
import { isolatedConfig } from '../test/security/lib/isolated-config.ts';
import { releaseBenchConfig } from './config.ts';

export interface DensityStep {
  idle: number;
  /** Seconds the step's additional sandboxes took to create. */
  createSeconds: number;
  /** MiB per sandbox. */
  perSandboxMiB: { cgroupUsage: number; cgroupAnon: number; processPss: number; hostKernel: number; hostMemAvailableDrop: number; controllerRss: number };
  /** Processes in the sandboxes' cgroups (bwrap's monitor, the sandbox's pid 1, its agent). */
  processes: number;
  /** Totals in MiB, for the record. */
  totalsMiB: { cgroupUsage: number; hostMemAvailableDrop: number; controllerRssGrowth: number };
  load: number[];
}

const MiB = 1024 * 1024;
// A TTL longer than the bench: a sandbox reaped for its age would leave the count it was read with.
const create = { runtime: 'namespace' as const, limits: {}, metadata: {}, env: {}, mounts: [], ttlSeconds: 4 * 3600 };

function meminfo(key: string): number {
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? Number.NaN) * 1024;
}
const memAvailableBytes = () => meminfo('MemAvailable');
/** Kernel memory the sandboxes' namespaces, tasks and page tables take (also moved by the rest of the host). */
const kernelBytes = () => meminfo('Slab') + meminfo('PageTables') + meminfo('KernelStack');

/** The parent cgroup's memory use and its anonymous part (v1: hierarchical totals; v2: memory.current, memory.stat anon). */
function parentMemory(layout: CgroupLayout, parent: string): { usage: number; anon: number } {
  if (layout.version === 2) {
    const dir = `${layout.mountPoint}/${parent}`;
    return { usage: Number(readFileSync(`${dir}/memory.current`, 'utf8')), anon: readKeyedCounter(readFileSync(`${dir}/memory.stat`, 'utf8'), 'anon') };
  }
  const dir = `${layout.mounts.memory}/${parent}`;
  return { usage: Number(readFileSync(`${dir}/memory.usage_in_bytes`, 'utf8')), anon: readKeyedCounter(readFileSync(`${dir}/memory.stat`, 'utf8'), 'total_rss') };
}

/** Sum of PSS over every process in the cgroup tree under `dir`, and how many there are. */
function processPss(dir: string): { pss: number; processes: number } {
  let pss = 0;
  let processes = 0;
  const files = (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f === 'cgroup.procs' || f.endsWith('/cgroup.procs'));
  for (const file of files) {
    for (const pid of readFileSync(`${dir}/${file}`, 'utf8').split('\n').filter(Boolean)) {
      try {
        pss += readKeyedCounter(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').replace(/:\s+/g, ' ').replace(/ kB/g, ''), 'Pss') * 1024;
        processes++;
      } catch {
        // Exited meanwhile.
      }
    }
  }
  return { pss, processes };
}

const round = (x: number) => Number(x.toFixed(2));
const load = () => loadavg().map(round);

export async function benchDensity(steps: number[]): Promise<DensityStep[]> {
  const max = Math.max(...steps);
  const config = isolatedConfig({ service: { maxSandboxes: max + 8, pools: [] } });
  const layout = detectCgroups();
  const service = new SandboxService({ config, policyBundleHash: await readBundleHash(policyDirOf(config.policy)) });
  const ids: string[] = [];
  const results: DensityStep[] = [];
  try {
    await service.start();
    // One sandbox made and ended first: the agent binary, the image, the helpers are then in place.
    await service.kill((await service.create(create)).sandbox_id);
    await new Promise((r) => setTimeout(r, 2_000));
    const availableBefore = memAvailableBytes();
    const kernelBefore = kernelBytes();
    const rssBefore = process.memoryUsage().rss;
    for (const step of [...steps].sort((a, b) => a - b)) {
      const t0 = performance.now();
      while (ids.length < step) {
        const batch = await Promise.all(Array.from({ length: Math.min(4, step - ids.length) }, () => service.create(create)));
        ids.push(...batch.map((b) => b.sandbox_id));
      }
      const createSeconds = round((performance.now() - t0) / 1000);
      // Let start-up settle (freed start-up memory, page cache) before reading.
      await new Promise((r) => setTimeout(r, 5_000));
      // Every sandbox made must still be running: per-sandbox figures divide by their number.
      const running = service.list().filter((x) => x.state === 'running').length;
      if (running !== ids.length) throw new Error(`${ids.length} created but ${running} still running`);
      const cg = parentMemory(layout, config.cgroupParent);
      const procs = processPss(layout.version === 2 ? `${layout.mountPoint}/${config.cgroupParent}` : `${layout.mounts.memory}/${config.cgroupParent}`);
      const drop = availableBefore - memAvailableBytes();
      const kernel = kernelBytes() - kernelBefore;
      const rss = process.memoryUsage().rss - rssBefore;
      const step_: DensityStep = {
        idle: ids.length,
        createSeconds,
        perSandboxMiB: { cgroupUsage: round(cg.usage / MiB / ids.length), cgroupAnon: round(cg.anon / MiB / ids.length), processPss: round(procs.pss / MiB / ids.length), hostKernel: round(kernel / MiB / ids.length), hostMemAvailableDrop: round(drop / MiB / ids.length), controllerRss: round(rss / MiB / ids.length) },
        processes: procs.processes,
        totalsMiB: { cgroupUsage: round(cg.usage / MiB), hostMemAvailableDrop: round(drop / MiB), controllerRssGrowth: round(rss / MiB) },
        load: load(),
      };
      results.push(step_);
      process.stderr.write(`${JSON.stringify(step_)}\n`);
    }
    return results;
  } finally {
    // Ended a few at a time: 2,000 teardowns at once would swamp the shared host.
    for (let i = 0; i < ids.length; i += 16) await Promise.all(ids.slice(i, i + 16).map((id) => service.kill(id).catch(() => undefined)));
    await service.shutdown();
    releaseBenchConfig(config);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const steps = (process.argv[2] ?? '500,1000,2000').split(',').map(Number);
  console.log(JSON.stringify({ machine: { load: load() }, steps: await benchDensity(steps) }, null, 2));
}
