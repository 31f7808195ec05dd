/**
 * The control plane for bench/burst.ts, in a process of its own so the client's work never shares
 * its event loop. Starts `airlock serve`'s server (startServer) on a free loopback port, prints
 * `{"address": …}` on stdout, then answers commands on stdin, one per line:
 *   `reset`  clears what is measured below and starts the window;
 *   `report` prints, as one JSON line, the event-loop delay (p50/p99/max, ms), the process's CPU
 *            time and its wait for a CPU (run queue, from /proc/self/schedstat) over the window, and
 *            per status code the server-side latency of the requests (HTTP `request` → response sent).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { ControllerListeners } from '../src/network/listeners.ts';
import { AirlockMetrics } from '../src/observability/metrics.ts';
import { SandboxService } from '../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../src/policy/bundle-files.ts';
import { startServer } from '../src/cli/serve.ts';
import { summarize } from './stats.ts';
import { createLoopbackAccess } from '../src/admission/loopback-access.ts';
import { benchConfig, releaseBenchConfig } from './config.ts';

const config = benchConfig();
// TCP only: the unix socket path is the live deployment's.
config.service.socket.path = null;
const metrics = new AirlockMetrics();
const listeners = new ControllerListeners(config.network);
const policyBundleHash = await readBundleHash(policyDirOf(config.policy));
const service = new SandboxService({ config: { ...config, service: { ...config.service, pools: [] } }, policyBundleHash, observer: metrics, listeners });
await service.start();
const server = await startServer({ service, access: await createLoopbackAccess({ config }), metrics, logger: pino({ level: 'silent' }), config, listeners, host: '127.0.0.1', port: 0 });

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const ms = (ns: number) => ns / 1e6;
/** Nanoseconds on a CPU and waiting for one, as the scheduler counts them. */
const schedstat = () => readFileSync('/proc/self/schedstat', 'utf8').split(' ').map(Number);
let window = { cpu: process.cpuUsage(), sched: schedstat(), wall: performance.now() };
const latencies = new Map<number, number[]>();
server.app.server.on('request', (_req, res) => {
  const t0 = performance.now();
  res.once('finish', () => {
    const list = latencies.get(res.statusCode) ?? [];
    list.push(performance.now() - t0);
    latencies.set(res.statusCode, list);
  });
});
process.stdout.write(`${JSON.stringify({ address: server.address })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'reset') {
    delay.reset();
    latencies.clear();
    window = { cpu: process.cpuUsage(), sched: schedstat(), wall: performance.now() };
  }
  if (line === 'report') {
    const cpu = process.cpuUsage(window.cpu);
    const sched = schedstat();
    process.stdout.write(`${JSON.stringify({
      p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max),
      wallMs: performance.now() - window.wall,
      cpuMs: (cpu.user + cpu.system) / 1000,
      runQueueWaitMs: ms((sched[1] ?? 0) - (window.sched[1] ?? 0)),
      serverLatency: Object.fromEntries([...latencies].map(([status, l]) => [status, summarize(l)])),
    })}\n`);
  }
}
await server.close();
releaseBenchConfig(config);
