/**
 * Cost of Cedar authorization, in a fresh process: loading the wasm module, loading and validating
 * the shipped bundle, and one decision on each path (allow: one evaluation; deny and approval: two).
 * Usage: node bench/policy.ts [--n 2000]
 */
import { parseArgs } from 'node:util';
import { summarize } from './stats.ts';
import { loadCedar } from '../src/policy/cedar.ts';
import { PolicyEngine, SHIPPED_POLICY_DIR } from '../src/policy/index.ts';
import type { PolicyRequest, SandboxSpec } from '../src/policy/index.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' } } });
const n = Number(values.n);

let t0 = performance.now();
await loadCedar();
const wasmMs = performance.now() - t0;
t0 = performance.now();
const engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
const bundleMs = performance.now() - t0;

const spec: SandboxSpec = {
  runtime: 'namespace',
  image: 'default',
  network: { mode: 'restricted', allowedHosts: ['pypi.org', 'files.pythonhosted.org'] },
  mounts: [{ hostPath: '/srv/work/project', sandboxPath: '/work', writable: false }],
  limits: { memoryMb: 512, cpuCores: 0.5, pids: 256, timeoutSeconds: 300, scratchMb: 64, outputBytes: 10_485_760, openFiles: 1024 },
};
const base: PolicyRequest = {
  principal: { role: 'agent', id: 'agent-1', groups: ['team-a'] },
  action: 'execute',
  sandbox: { id: 'sb-1', owner: 'agent-1', spec },
  settings: { defaultImage: 'default', hostRoots: ['/srv/work'] },
};
const cases: Record<string, PolicyRequest> = {
  allow: base,
  approval: { ...base, sandbox: { id: 'sb-1', owner: 'agent-1', spec: { ...spec, network: { mode: 'full', allowedHosts: [] } } } },
  deny: { ...base, action: 'kill', sandbox: { id: 'sb-2', owner: 'agent-2', spec } },
};

const result: Record<string, unknown> = { wasm_load_ms: +wasmMs.toFixed(1), bundle_load_ms: +bundleMs.toFixed(1), policies: engine.policies.length };
for (const [name, request] of Object.entries(cases)) {
  for (let i = 0; i < 200; i++) engine.evaluate(request);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    engine.evaluate(request);
    samples.push(performance.now() - t);
  }
  const s = summarize(samples);
  result[`evaluate_${name}_ms`] = { p50: +s.p50.toFixed(3), p99: +s.p99.toFixed(3), decision: engine.evaluate(request).decision };
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
