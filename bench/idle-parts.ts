/**
 * Pieces the idle-cost benches share: the controller's CPU from /proc (its own time, its reaped
 * children's and its live children's), a timed create → exec /bin/true → kill loop, and what
 * every launch's fork copies (the controller's descriptors and memory, and a plain spawn's time).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { SandboxService } from '../src/sandbox/service.ts';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ). */
export const USER_HZ = 100;

/** The fields of /proc/<pid>/stat after "(comm) ": state=0 ppid=1 … utime=11 stime=12 cutime=13 cstime=14. */
function statFields(pid: number | 'self'): number[] {
  return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
}

/** utime + stime of process `pid`, in ticks. */
export function processTicks(pid: number): number {
  const f = statFields(pid);
  return (f[11] ?? 0) + (f[12] ?? 0);
}

/** CPU ticks of this process (own), its reaped children (cutime + cstime) and its live children. */
export function controllerTicks(): { own: number; reaped: number; live: number } {
  const self = statFields('self');
  let live = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const f = statFields(Number(pid));
      if (f[1] === process.pid) live += (f[11] ?? 0) + (f[12] ?? 0);
    } catch {
      // Exited.
    }
  }
  return { own: (self[11] ?? 0) + (self[12] ?? 0), reaped: (self[13] ?? 0) + (self[14] ?? 0), live };
}

/** The controller's CPU over a window of `seconds`, in % of one core (two decimals). */
export async function cpuWindow(seconds: number): Promise<{ own: number; reaped: number; live: number; total: number; seconds: number }> {
  const a = controllerTicks();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const b = controllerTicks();
  const wall = (performance.now() - t0) / 1000;
  const pct = (ticks: number) => Number(((ticks / USER_HZ / wall) * 100).toFixed(2));
  const own = b.own - a.own;
  const reaped = b.reaped - a.reaped;
  const live = b.live - a.live;
  return { own: pct(own), reaped: pct(reaped), live: pct(live), total: pct(own + reaped + live), seconds: wall };
}

/** create → exec /bin/true → kill, `n` times, with `create` as the request; create and exec timed apart. */
export async function createExec(service: SandboxService, create: Parameters<SandboxService['create']>[0], n: number): Promise<{ create: number[]; exec: number[] }> {
  const out = { create: [] as number[], exec: [] as number[] };
  for (let i = 0; i < n; i++) {
    let t0 = performance.now();
    const info = await service.create(create);
    out.create.push(performance.now() - t0);
    t0 = performance.now();
    const session = await service.exec(info.sandbox_id, { argv: ['/bin/true'], env: {}, stdin: false, timeoutMs: 30_000 });
    const result = await session.result;
    out.exec.push(performance.now() - t0);
    if (result.exit_code !== 0) throw new Error(`exec exited ${JSON.stringify(result)}`);
    await service.kill(info.sandbox_id);
  }
  return out;
}

/** The controller's open descriptors and memory (MiB) now: what every fork of a launch copies. */
export function controllerFootprint(): { fds: number; rssMiB: number; heapUsedMiB: number } {
  const m = process.memoryUsage();
  return { fds: readdirSync('/proc/self/fd').length, rssMiB: Math.round(m.rss / 2 ** 20), heapUsedMiB: Math.round(m.heapUsed / 2 ** 20) };
}

/**
 * A Node spawn of /bin/true from the controller, `n` times (ms, spawn to close): each launch of a
 * sandbox forks the whole controller the same way, so this follows its descriptors and memory.
 */
export async function spawnTrue(n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => spawn('/bin/true', { stdio: ['ignore', 'pipe', 'pipe'] }).once('error', reject).once('close', () => resolve()));
    out.push(performance.now() - t0);
  }
  return out;
}
