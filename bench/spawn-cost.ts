/**
 * What one spawn costs the process that makes it. Linux's fork copies the parent's page tables and
 * marks each private page copy-on-write, page by page, so the cost grows with the parent's resident
 * memory; Node's spawn is synchronous until the child has exec'd, so the event loop waits all that
 * time. Measured in the calling process (a controller under load) against a fresh Node process
 * doing the same, in one run.
 *
 *   node bench/spawn-cost.ts N   (prints the fresh process's figures as JSON)
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Per spawn of /bin/true, until its exit: wall and the spawning process's own CPU, at its resident memory. */
export interface SpawnCost {
  rssMb: number;
  wallMs: number;
  cpuMs: number;
}

const spawnTrue = () => new Promise<void>((resolve, reject) => spawn('/bin/true', [], { stdio: 'ignore' }).once('exit', () => resolve()).once('error', reject));

/** `n` spawns of /bin/true from this process, one after another (after 10 untimed). */
export async function spawnCostHere(n: number): Promise<SpawnCost> {
  for (let i = 0; i < 10; i++) await spawnTrue();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await spawnTrue();
  const cpu = process.cpuUsage(cpu0);
  return { rssMb: process.memoryUsage().rss / 2 ** 20, wallMs: (performance.now() - t0) / n, cpuMs: (cpu.user + cpu.system) / 1000 / n };
}

/** The same from a fresh Node process (this file run on its own). */
export async function spawnCostFresh(n: number): Promise<SpawnCost> {
  const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), String(n)]);
  return JSON.parse(stdout) as SpawnCost;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(JSON.stringify(await spawnCostHere(Number(process.argv[2] ?? 200))));
}
