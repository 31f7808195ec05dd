/**
 * Cost of Cedar authorization, in a fresh process: loading the wasm module, loading and validating
 * the shipped bundle, and one decision on each path (allow, deny, approval), each call distinct so the
 * engine's answer cache never answers it.
 * Usage: node bench/policy.ts [--n 2000]
 */
import { parseArgs } from 'node:util';
import { summarize } from './stats.ts';
import { executeWithMounts } from './admission-parts.ts';
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

const base = executeWithMounts();
const spec = base.sandbox?.spec as SandboxSpec;
const cases: Record<string, PolicyRequest> = {
  allow: base,
  approval: { ...base, sandbox: { id: 'sb-1', owner: 'agent-1', spec: { ...spec, network: { mode: 'full', allowedHosts: [] } } } },
  deny: { ...base, action: 'kill', sandbox: { id: 'sb-2', owner: 'agent-2', spec } },
};

/** `request` on a sandbox of its own: a distinct call, so the engine's answer cache can't answer it. */
const onSandbox = (request: PolicyRequest, id: string): PolicyRequest => ({ ...request, sandbox: { ...(request.sandbox as NonNullable<PolicyRequest['sandbox']>), id } });

const result: Record<string, unknown> = { wasm_load_ms: +wasmMs.toFixed(1), bundle_load_ms: +bundleMs.toFixed(1), policies: engine.policies.length };
for (const [name, request] of Object.entries(cases)) {
  // Every timed call is distinct (uncached): Cedar's own cost, not a cache hit.
  for (let i = 0; i < 200; i++) engine.evaluate(onSandbox(request, `warm-${name}-${i}`));
  const calls = Array.from({ length: n }, (_, i) => onSandbox(request, `bench-${name}-${i}`));
  const samples: number[] = [];
  for (const call of calls) {
    const t = performance.now();
    engine.evaluate(call);
    samples.push(performance.now() - t);
  }
  const s = summarize(samples);
  result[`evaluate_${name}_ms`] = { p50: +s.p50.toFixed(3), p99: +s.p99.toFixed(3), decision: engine.evaluate(request).decision };
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
