/**
 * The engine remembers Cedar's answers by their exact call: a repeated request is decided as the
 * first was, any difference in what policy sees is evaluated afresh, and the memory is bounded.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DECISION_CACHE_SIZE, PolicyEngine } from './engine.ts';
import { SHIPPED_POLICY_DIR } from './bundle-files.ts';
import type { PolicyRequest, SandboxSpec } from './request.ts';
import { DEFAULT_TEST_SPEC } from './test-spec.ts';

const SETTINGS = { defaultImage: 'default', hostRoots: ['/srv/work'] };

function execute(owner: string, spec: Partial<SandboxSpec> = {}, approved?: boolean): PolicyRequest {
  return { principal: { role: 'agent', id: 'agent-1', groups: [] }, action: 'execute', sandbox: { id: 'new', owner, spec: { ...DEFAULT_TEST_SPEC, ...spec } }, approved, settings: SETTINGS };
}

describe('decision cache', () => {
  let engine: PolicyEngine;
  before(async () => {
    engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
  });

  test('a repeated request gets the same decision, and a cached one is fast', () => {
    const first = engine.evaluate(execute('agent-1'));
    assert.equal(first.decision, 'allow');
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) assert.deepEqual(engine.evaluate(execute('agent-1')), first);
    // An evaluation by Cedar takes about a millisecond; 200 remembered ones far less than 200.
    assert.ok(performance.now() - t0 < 100, `200 repeated decisions took ${(performance.now() - t0).toFixed(1)} ms`);
  });

  test('each difference policy sees is decided afresh: owner, network, approval', () => {
    assert.equal(engine.evaluate(execute('agent-1')).decision, 'allow');
    assert.equal(engine.evaluate(execute('agent-2')).decision, 'deny', "another tenant's sandbox");
    const full = { network: { mode: 'full' as const, allowedHosts: [] } };
    assert.equal(engine.evaluate(execute('agent-1', full)).decision, 'approval');
    assert.equal(engine.evaluate(execute('agent-1', full, true)).decision, 'allow');
    // And the cached answers are not changed by being used: the first answer again.
    assert.equal(engine.evaluate(execute('agent-1')).decision, 'allow');
    assert.equal(engine.evaluate(execute('agent-2')).decision, 'deny');
  });

  test('the memory is bounded: past its size the oldest answers are forgotten, decisions unchanged', () => {
    for (let i = 0; i < DECISION_CACHE_SIZE + 50; i++) {
      const decision = engine.evaluate(execute(i % 2 === 0 ? 'agent-1' : `other-${i}`, { limits: { ...DEFAULT_TEST_SPEC.limits, memoryMb: 64 + i } }));
      assert.equal(decision.decision, i % 2 === 0 ? 'allow' : 'deny', `request ${i}`);
    }
    assert.equal(engine.evaluate(execute('agent-2')).decision, 'deny');
  });
});
