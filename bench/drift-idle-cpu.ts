/**
 * What the network drift watch costs the controller while sandboxes sit idle: N restricted
 * namespace sandboxes run `sleep`, and the controller's CPU time is read from /proc over a window
 * (its own utime+stime, its reaped children's — the `nft` listings — and its live children's: the
 * monitors). Usage: node bench/drift-idle-cpu.ts [sandboxes=20] [seconds=30]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { NetworkManager } from '../src/network/manager.ts';
import { availability, runInSandbox } from '../test/security/lib/runtime.ts';
import { isolatedConfig, releaseIsolatedConfig } from '../test/security/lib/isolated-config.ts';

const SANDBOXES = Number(process.argv[2] ?? 20);
const SECONDS = Number(process.argv[3] ?? 30);
const TICK = 100; // USER_HZ

/** utime+stime (own), cutime+cstime (reaped children), and live children's utime+stime, in ticks. */
function cpuTicks(): { own: number; reaped: number; live: number } {
  const fields = (pid: string) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ').map(Number);
  const self = fields('self');
  // After "(comm) ": state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14.
  let live = 0;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const f = fields(pid);
      if (f[1] === process.pid) live += (f[11] ?? 0) + (f[12] ?? 0);
    } catch {
      // Exited.
    }
  }
  return { own: (self[11] ?? 0) + (self[12] ?? 0), reaped: (self[13] ?? 0) + (self[14] ?? 0), live };
}

const config = isolatedConfig();
const ready = await availability('namespace', config);
if (!ready.ok) throw new Error(ready.reason);
const networks = new NetworkManager({ config });
const runs = Array.from({ length: SANDBOXES }, () =>
  runInSandbox(ready, config, ['sleep', String(SECONDS + 10)], { network: { mode: 'restricted', allowedHosts: [], services: [] }, networks, limits: { timeoutSeconds: SECONDS + 60 } }),
);
// Let every sandbox start and its watch settle before measuring.
await new Promise((r) => setTimeout(r, 8000));
const start = cpuTicks();
const t0 = performance.now();
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const end = cpuTicks();
const wall = (performance.now() - t0) / 1000;
const pct = (ticks: number) => `${((ticks / TICK / wall) * 100).toFixed(2)} %`;
const own = end.own - start.own;
const reaped = end.reaped - start.reaped;
const live = end.live - start.live;
console.log(JSON.stringify({ sandboxes: SANDBOXES, seconds: Number(wall.toFixed(1)), own: pct(own), reapedChildren: pct(reaped), liveChildren: pct(live), total: pct(own + reaped + live) }));
const results = await Promise.all(runs);
const reasons = [...new Set(results.map((r) => r.termination_reason))];
console.log(JSON.stringify({ ended: reasons }));
for (const r of results) if (r.termination_reason !== 'completed') console.log(r.termination_reason, JSON.stringify(r.security_violations.map((v) => v.description)));
await networks.close();
releaseIsolatedConfig(config);
