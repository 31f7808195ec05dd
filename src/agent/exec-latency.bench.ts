/**
 * Exec round trip of /bin/true through the agent of a running sandbox (namespace by default),
 * against Node's spawn('/bin/true') on the host, alternating in one process. Run as root:
 *   node src/agent/exec-latency.bench.ts [iterations] [namespace|gvisor]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { configSchema, loadConfig } from '../config/config.ts';
import { resolveImage } from '../images/store.ts';
import { removeEmptyParent } from '../isolation/cgroups/index.ts';
import { createDriver } from '../isolation/drivers.ts';
import { AGENT_SANDBOX_PATH } from './build.ts';
import { AgentClient } from './client.ts';
import { buildTestAgent } from './test-agent.ts';

const iterations = Number(process.argv[2] ?? 200);
const runtime = process.argv[3] === 'gvisor' ? 'gvisor' : 'namespace';
const warmup = 20;
const runDir = mkdtempSync('/tmp/airlock-agent-bench-');
const config = configSchema.parse({ ...loadConfig(), runDir, cgroupParent: `airlock-agent-bench-${process.pid}` });
const { stateDir, agent } = await buildTestAgent();
const driver = createDriver(runtime, config);
const image = await resolveImage(config, config.defaultImage);
const sandbox = await driver.create({
  id: `agent-bench-${process.pid}`,
  image,
  limits: { ...config.defaults, timeoutSeconds: 600 },
  env: { PATH: '/usr/bin:/bin' },
  mounts: [],
  workdir: '/tmp',
  network: { kind: 'isolated' },
  agentDir: agent.dir,
});

/** One round trip through the agent: EXEC sent until EXIT received. */
async function viaAgent(client: AgentClient): Promise<number> {
  const t0 = performance.now();
  const exit = await client.exec({ argv: ['/bin/true'], env: { PATH: '/usr/bin:/bin' }, cwd: '/' }).exit;
  if (exit.code !== 0) throw new Error(`/bin/true exited ${exit.code ?? exit.signal}`);
  return performance.now() - t0;
}

/** One host spawn: spawn() called until 'exit'. */
function viaSpawn(): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/true', [], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', () => resolve(performance.now() - t0));
  });
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

try {
  const proc = await sandbox.start({ argv: [AGENT_SANDBOX_PATH], stdin: true });
  if (proc.stdin === null) throw new Error('no stdin');
  proc.stderr.resume();
  const client = new AgentClient({ stdin: proc.stdin, stdout: proc.stdout });
  await client.ready();
  for (let i = 0; i < warmup; i++) {
    await viaAgent(client);
    await viaSpawn();
  }
  const agentMs: number[] = [];
  const spawnMs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    agentMs.push(await viaAgent(client));
    spawnMs.push(await viaSpawn());
  }
  const fmt = (s: number[]) => `p50 ${percentile(s, 50).toFixed(3)} ms, p90 ${percentile(s, 90).toFixed(3)} ms, p99 ${percentile(s, 99).toFixed(3)} ms`;
  console.log(`agent exec /bin/true (${runtime} sandbox), n=${iterations}: ${fmt(agentMs)}`);
  console.log(`host spawn('/bin/true'), n=${iterations}: ${fmt(spawnMs)}`);
  client.close();
} finally {
  await sandbox.destroy();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(runDir, { recursive: true, force: true });
  removeEmptyParent(config.cgroupParent);
}
