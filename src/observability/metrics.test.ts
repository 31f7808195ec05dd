import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExecutionResult, SecurityViolation } from '../sandbox/result.ts';
import { AirlockMetrics, executionResultLabel } from './metrics.ts';

const violation = (type: string, layer: SecurityViolation['detection_layer']): SecurityViolation => ({
  violation_id: 'v', timestamp: '', violation_type: type, severity: 'HIGH', description: '', detection_layer: layer, blocked: true, indicators: {}, remediation: '',
});

const result = (over: Partial<ExecutionResult>): ExecutionResult => ({
  execution_id: 'x', success: true, output: '', error: null, exit_code: 0, security_violations: [], execution_time_seconds: 1, cold_start_time_ms: 12,
  resource_usage: { cpu_usage_cores: 0, memory_usage_mb: 0, network_rx_bytes: 0, network_tx_bytes: 0 }, termination_reason: 'completed', runtime_used: 'namespace', accelerator: null, policy_hash: 'h',
  image_digest: `sha256:${'0'.repeat(64)}`, image_signer: null,
  ...over,
});

describe('metrics', () => {
  it('records executions, violations, escape attempts and cold starts under the seed names', async () => {
    const m = new AirlockMetrics();
    m.executionFinished(result({}));
    m.executionFinished(result({ success: false, exit_code: 159, security_violations: [violation('forbidden_syscall', 'SECCOMP'), violation('memory_exhaustion', 'RESOURCE')] }));
    m.executionFinished(result({ success: false, termination_reason: 'timeout' }));
    const text = await m.render();
    assert.match(text, /hardened_sandbox_executions_total\{runtime="namespace",result="success"\} 1/);
    assert.match(text, /hardened_sandbox_executions_total\{runtime="namespace",result="failure"\} 1/);
    assert.match(text, /hardened_sandbox_executions_total\{runtime="namespace",result="timeout"\} 1/);
    assert.match(text, /hardened_sandbox_violations_total\{type="forbidden_syscall",severity="HIGH"\} 1/);
    assert.match(text, /hardened_sandbox_escape_attempts_total\{pattern="forbidden_syscall"\} 1/);
    assert.doesNotMatch(text, /escape_attempts_total\{pattern="memory_exhaustion"\}/);
    assert.match(text, /hardened_sandbox_cold_start_duration_seconds_count\{runtime="namespace"\} 3/);
  });

  it('active count comes from the source when set, else from created/ended', async () => {
    const m = new AirlockMetrics();
    const info = { runtime: 'namespace', pooled: false, end_reason: 'killed' } as Parameters<AirlockMetrics['sandboxCreated']>[0];
    m.sandboxCreated(info, 10);
    assert.match(await m.render(), /^active_hardened_sandboxes_count 1$/m);
    m.sandboxEnded(info);
    assert.match(await m.render(), /^active_hardened_sandboxes_count 0$/m);
    m.setActiveSandboxesSource(() => 7);
    assert.match(await m.render(), /^active_hardened_sandboxes_count 7$/m);
  });

  it('labels stay bounded and printable', async () => {
    const m = new AirlockMetrics();
    m.poolCheckout(`weird pool "name"\n${'x'.repeat(200)}`, true);
    const line = (await m.render()).split('\n').find((l) => l.startsWith('airlock_pool_checkouts_total{')) ?? '';
    assert.ok(line.length < 160, line);
    assert.doesNotMatch(line, /"name"/);
  });

  it('result label', () => {
    assert.equal(executionResultLabel(result({})), 'success');
    assert.equal(executionResultLabel(result({ success: false, termination_reason: 'memory_limit' })), 'memory_limit');
  });
});
