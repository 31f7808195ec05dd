/**
 * What the network drift watch costs the controller while sandboxes sit idle: N restricted
 * namespace sandboxes run `sleep`, and the controller's CPU time is read from /proc over a window
 * (its own utime+stime, its reaped children's — the `nft` listings — and its live children's: the
 * monitors). Usage: node bench/drift-idle-cpu.ts [sandboxes=20] [seconds=30]
 */
import { NetworkManager } from '../src/network/manager.ts';
import { cpuWindow } from './idle-parts.ts';
import { availability, runInSandbox } from '../test/security/lib/runtime.ts';
import { isolatedConfig } from '../test/security/lib/isolated-config.ts';
import { releaseBenchConfig } from './config.ts';

const SANDBOXES = Number(process.argv[2] ?? 20);
const SECONDS = Number(process.argv[3] ?? 30);

const config = isolatedConfig();
const ready = await availability('namespace', config);
if (!ready.ok) throw new Error(ready.reason);
const networks = new NetworkManager({ config });
const runs = Array.from({ length: SANDBOXES }, () =>
  runInSandbox(ready, config, ['sleep', String(SECONDS + 10)], { network: { mode: 'restricted', allowedHosts: [], services: [] }, networks, limits: { timeoutSeconds: SECONDS + 60 } }),
);
// Let every sandbox start and its watch settle before measuring.
await new Promise((r) => setTimeout(r, 8000));
const cpu = await cpuWindow(SECONDS);
const pct = (value: number) => `${value.toFixed(2)} %`;
console.log(JSON.stringify({ sandboxes: SANDBOXES, seconds: Number(cpu.seconds.toFixed(1)), own: pct(cpu.own), reapedChildren: pct(cpu.reaped), liveChildren: pct(cpu.live), total: pct(cpu.total) }));
const results = await Promise.all(runs);
const reasons = [...new Set(results.map((r) => r.termination_reason))];
console.log(JSON.stringify({ ended: reasons }));
for (const r of results) if (r.termination_reason !== 'completed') console.log(r.termination_reason, JSON.stringify(r.security_violations.map((v) => v.description)));
await networks.close();
releaseBenchConfig(config);
