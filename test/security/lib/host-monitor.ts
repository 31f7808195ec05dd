/**
 * Measures the host while an abuse case runs, so "host unaffected" (T17) is a measurement, not an
 * assumption: free memory, task count and load sampled throughout, and a host-side probe process
 * started over and over whose every start must succeed promptly. Read-only: it changes nothing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AirlockConfig } from '../../../src/config/config.ts';
import { detectCgroups } from '../../../src/isolation/cgroups/index.ts';

/** What the host went through while the monitor ran. */
export interface HostPressure {
  samples: number;
  /** Lowest MemAvailable seen, in bytes. */
  minMemAvailableBytes: number;
  /** Most kernel tasks (threads of every process) seen at once, from /proc/loadavg. */
  maxTasks: number;
  /** Highest 1-minute load average seen. */
  maxLoad1: number;
  /** Host probe processes started and finished. */
  probes: number;
  /** Slowest probe, spawn to exit, in ms (the host's responsiveness to a new process). */
  maxProbeMs: number;
  /** Probes that could not be started or did not exit 0 (EAGAIN from fork, ENOMEM …). */
  probeFailures: string[];
  /** Most host tasks seen in one sandbox cgroup under the watched parent, and that cgroup's pids.max. */
  sandboxTasks: { peak: number; max: number };
}

/** One reading of the host's memory, task count and load. */
export interface HostReading {
  memAvailableBytes: number;
  tasks: number;
  load1: number;
}

/** Reads MemAvailable, the task count and the 1-minute load now. */
export function readHost(): HostReading {
  const mem = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  // loadavg: "0.52 0.58 0.59 2/178 12345": runnable/total tasks is the fourth field.
  const [load1 = '0', , , entities = '0/0'] = readFileSync('/proc/loadavg', 'utf8').trim().split(/\s+/);
  return { memAvailableBytes: Number(mem?.[1] ?? 0) * 1024, tasks: Number(entities.split('/')[1] ?? 0), load1: Number(load1) };
}

/** The pids hierarchy's directory of `config`'s cgroup parent (where its sandboxes' cgroups are). */
export function pidsParentOf(config: AirlockConfig): string {
  const layout = detectCgroups();
  return `${layout.version === 2 ? layout.mountPoint : layout.mounts.pids}/${config.cgroupParent}`;
}

/** Host tasks of the busiest sandbox cgroup directly under `pidsParent`, with its pids.max. */
function busiestSandbox(pidsParent: string): { current: number; max: number } {
  let busiest = { current: 0, max: 0 };
  let names: string[];
  try {
    names = readdirSync(pidsParent, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return busiest;
  }
  for (const name of names) {
    try {
      const current = Number(readFileSync(`${pidsParent}/${name}/pids.current`, 'utf8'));
      const max = Number(readFileSync(`${pidsParent}/${name}/pids.max`, 'utf8'));
      if (current > busiest.current) busiest = { current, max };
    } catch {
      // Removed meanwhile.
    }
  }
  return busiest;
}

/** Starts `/bin/true` on the host; resolves with how long it took, or rejects with why it failed. */
function probeOnce(): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/true', [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`host probe ended ${code ?? signal}`));
    });
  });
}

/**
 * Starts sampling every `intervalMs` (the host, and the sandbox cgroups under `pidsParent`, the
 * pids hierarchy's directory of the suite's cgroup parent) and probing every `probeGapMs`; `stop()`
 * (idempotent) ends both and returns what was measured (at least one probe, taken at stop if the run was short).
 */
export function monitorHost(pidsParent: string, intervalMs = 25, probeGapMs = 50): { stop(): Promise<HostPressure> } {
  const first = readHost();
  const pressure: HostPressure = {
    samples: 1,
    minMemAvailableBytes: first.memAvailableBytes,
    maxTasks: first.tasks,
    maxLoad1: first.load1,
    probes: 0,
    maxProbeMs: 0,
    probeFailures: [],
    sandboxTasks: { peak: 0, max: 0 },
  };
  const sample = () => {
    const r = readHost();
    const sandbox = busiestSandbox(pidsParent);
    if (sandbox.current > pressure.sandboxTasks.peak) pressure.sandboxTasks = { peak: sandbox.current, max: sandbox.max };
    pressure.samples++;
    pressure.minMemAvailableBytes = Math.min(pressure.minMemAvailableBytes, r.memAvailableBytes);
    pressure.maxTasks = Math.max(pressure.maxTasks, r.tasks);
    pressure.maxLoad1 = Math.max(pressure.maxLoad1, r.load1);
  };
  const timer = setInterval(sample, intervalMs);
  let running = true;
  const probeOne = async () => {
    try {
      pressure.maxProbeMs = Math.max(pressure.maxProbeMs, await probeOnce());
    } catch (err) {
      pressure.probeFailures.push((err as Error).message);
    }
    pressure.probes++;
  };
  const probing = (async () => {
    while (running) {
      await probeOne();
      // A gap between probes: the monitor must not itself be the load it measures.
      await sleep(probeGapMs);
    }
  })();
  let stopped: Promise<HostPressure> | undefined;
  const stop = async () => {
    running = false;
    clearInterval(timer);
    await probing;
    sample();
    if (pressure.probes === 0) await probeOne();
    return pressure;
  };
  // Idempotent: the first call ends the monitor, later ones get the same measurement.
  return { stop: () => (stopped ??= stop()) };
}

/** Host work other than the sandbox under test (other suites, the controller): tolerated on top. */
const OTHER_TASKS = 512;
const OTHER_MEMORY_BYTES = 1024 * 1024 * 1024;
/** Slowest a host process may take to start and exit while a sandbox abuses its limits. */
const MAX_PROBE_MS = 3_000;

/**
 * Asserts the host was unaffected while the sandbox abused its limits: every host probe started and
 * exited promptly; the sandbox's own host tasks never exceeded its cgroup's pids.max; the host's task
 * count rose by no more than that bound (plus other work) and its free memory fell by no more than
 * the sandbox's memory limit (plus other work).
 */
export function assertHostUnaffected(before: HostReading, pressure: HostPressure, memoryLimitMb: number): void {
  const detail = JSON.stringify({ before, pressure });
  assert.deepEqual(pressure.probeFailures, [], `the host failed to start a process during the abuse: ${detail}`);
  assert.ok(pressure.probes > 0 && pressure.maxProbeMs < MAX_PROBE_MS, `a host process took ${Math.round(pressure.maxProbeMs)} ms to start and exit: ${detail}`);
  assert.ok(pressure.sandboxTasks.peak <= pressure.sandboxTasks.max, `the sandbox held more host tasks than its pids.max: ${detail}`);
  assert.ok(pressure.maxTasks - before.tasks <= pressure.sandboxTasks.max + OTHER_TASKS, `host tasks rose by ${pressure.maxTasks - before.tasks}: ${detail}`);
  const drop = before.memAvailableBytes - pressure.minMemAvailableBytes;
  assert.ok(drop <= memoryLimitMb * 1024 * 1024 + OTHER_MEMORY_BYTES, `host free memory fell by ${Math.round(drop / 1048576)} MiB: ${detail}`);
}
