import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from './engine.ts';
import { SHIPPED_POLICY_DIR } from './bundle-files.ts';
import { POLICY_ACTIONS } from './request.ts';
import type { PolicyAction, PolicyRequest, PrincipalRole, SandboxSpec } from './request.ts';
import { DEFAULT_TEST_SPEC } from './test-spec.ts';

const SPEC: SandboxSpec = DEFAULT_TEST_SPEC;
const SETTINGS = { defaultImage: 'default', hostRoots: ['/srv/work', '/data'] };

function request(role: PrincipalRole, action: PolicyAction, opts: { owner?: string; spec?: Partial<SandboxSpec>; approved?: boolean } = {}): PolicyRequest {
  const spec = { ...SPEC, ...opts.spec };
  return {
    principal: { role, id: `${role}-1`, groups: ['team-a'] },
    action,
    ...(action === 'admin' ? {} : { sandbox: { id: 'sb-1', owner: opts.owner ?? `${role}-1`, spec } }),
    approved: opts.approved,
    settings: SETTINGS,
  };
}

const CONFIGURE: readonly PolicyAction[] = ['create', 'execute', 'network.change'];
const USE: readonly PolicyAction[] = ['read', 'exec', 'files.read', 'files.write', 'kill'];

describe('default policies', () => {
  let engine: PolicyEngine;
  before(async () => {
    engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
  });

  test('the shipped bundle loads, every policy named', () => {
    assert.match(engine.hash, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(engine.policies.map((p) => p.id).sort(), [
      'agent-configure-sandboxes',
      'agent-configure-with-approval',
      'agent-default-image-only',
      'agent-mcp-by-group',
      'agent-mcp-destructive-with-approval',
      'agent-own-sandboxes-only',
      'agent-secrets-by-group',
      'agent-use-sandboxes',
      'approver-approve',
      'approver-approve-mcp',
      'approvers-decide-only',
      'approvers-no-mcp',
      'controller-operators-only',
      'host-grants-within-roots',
      'operator-all',
    ]);
  });

  test('an agent may configure and use its own sandbox', () => {
    for (const action of CONFIGURE) {
      assert.deepEqual(engine.evaluate(request('agent', action)).decision, 'allow', action);
      assert.deepEqual(engine.evaluate(request('agent', action)).policyIds, ['agent-configure-sandboxes'], action);
    }
    for (const action of USE) {
      assert.deepEqual(engine.evaluate(request('agent', action)).policyIds, ['agent-use-sandboxes'], action);
      assert.equal(engine.evaluate(request('agent', action)).decision, 'allow', action);
    }
    const restricted = engine.evaluate(request('agent', 'create', { spec: { network: { mode: 'restricted', allowedHosts: ['pypi.org'] } } }));
    assert.equal(restricted.decision, 'allow');
  });

  test("an agent is denied every action on another tenant's sandbox, approval or not, and learns nothing about it", () => {
    for (const action of POLICY_ACTIONS) {
      for (const approved of [false, true]) {
        const d = engine.evaluate(request('agent', action, { owner: 'agent-2', approved }));
        assert.equal(d.decision, 'deny', `${action} approved=${approved}`);
        // The refusal names the rule that refused (tenancy; admin and approve are the operators' and approvers').
        const expected = action === 'admin' ? ['controller-operators-only'] : action === 'approve' ? [] : ['agent-own-sandboxes-only'];
        assert.deepEqual(d.policyIds, expected, action);
        assert.ok(!d.reasons.join(' ').includes('agent-2'), `${action}: reason names the other tenant`);
      }
    }
  });

  test('an agent may neither approve nor administer, even its own sandbox', () => {
    assert.equal(engine.evaluate(request('agent', 'approve')).decision, 'deny');
    assert.equal(engine.evaluate(request('agent', 'admin')).decision, 'deny');
    assert.deepEqual(engine.evaluate(request('agent', 'admin')).reasons, ['only operators administer the controller']);
    assert.deepEqual(engine.evaluate(request('agent', 'approve')).reasons, ['no policy permits this request (default deny)']);
  });

  test('an operator may do everything on any sandbox, full egress and writable grants included', () => {
    for (const action of POLICY_ACTIONS) {
      const d = engine.evaluate(request('operator', action, { owner: 'agent-2' }));
      assert.deepEqual(d, { decision: 'allow', policyIds: ['operator-all'], reasons: ['operators may do everything'], errors: [] }, action);
    }
    const wide = request('operator', 'create', {
      spec: { image: 'custom', network: { mode: 'full', allowedHosts: [] }, mounts: [{ hostPath: '/data/x', sandboxPath: '/mnt', writable: true }] },
    });
    assert.equal(engine.evaluate(wide).decision, 'allow');
  });

  test('an approver decides approvals and nothing else', () => {
    assert.deepEqual(engine.evaluate(request('approver', 'approve', { owner: 'agent-2' })).policyIds, ['approver-approve']);
    for (const action of [...CONFIGURE, ...USE, 'admin'] as const) {
      assert.equal(engine.evaluate(request('approver', action, { owner: 'agent-2' })).decision, 'deny', action);
    }
  });

  test('full egress needs approval, and is allowed with one', () => {
    for (const action of CONFIGURE) {
      const full = { network: { mode: 'full' as const, allowedHosts: [] } };
      const pending = engine.evaluate(request('agent', action, { spec: full }));
      assert.deepEqual(pending.decision, 'approval', action);
      assert.deepEqual(pending.policyIds, ['agent-configure-with-approval']);
      const approved = engine.evaluate(request('agent', action, { spec: full, approved: true }));
      assert.deepEqual(approved.decision, 'allow', action);
      assert.deepEqual(approved.policyIds, ['agent-configure-with-approval']);
    }
  });

  test('an approved request within what agents may do anyway is allowed, naming every permit that held', () => {
    const d = engine.evaluate(request('agent', 'create', { approved: true }));
    assert.equal(d.decision, 'allow');
    assert.deepEqual(d.policyIds, ['agent-configure-sandboxes', 'agent-configure-with-approval']);
    const other = engine.evaluate(request('agent', 'create', { owner: 'agent-2', approved: true, spec: { network: { mode: 'full', allowedHosts: [] } } }));
    assert.equal(other.decision, 'deny', "an approval does not open another tenant's sandbox");
  });

  test('network.change is judged on the network asked for, not the one the sandbox has', () => {
    const req: PolicyRequest = { ...request('agent', 'network.change'), request: { ...SPEC, network: { mode: 'full', allowedHosts: [] } } };
    assert.equal(engine.evaluate(req).decision, 'approval');
  });

  test('a writable host grant needs approval; a read-only one under a root does not', () => {
    const rw = { mounts: [{ hostPath: '/srv/work/project', sandboxPath: '/work', writable: true }] };
    assert.equal(engine.evaluate(request('agent', 'create', { spec: rw })).decision, 'approval');
    assert.equal(engine.evaluate(request('agent', 'create', { spec: rw, approved: true })).decision, 'allow');
    const ro = { mounts: [{ hostPath: '/srv/work/project', sandboxPath: '/work', writable: false }] };
    assert.equal(engine.evaluate(request('agent', 'create', { spec: ro })).decision, 'allow');
    assert.equal(engine.evaluate(request('agent', 'create', { spec: { mounts: [{ hostPath: '/data', sandboxPath: '/d', writable: false }] } })).decision, 'allow');
  });

  test('a host grant outside the configured roots is denied to everyone but operators, approved or not', () => {
    const outside = [
      '/etc',
      '/srv/workspace', // shares a prefix with the root /srv/work, but is not below it
      '/data/../etc/shadow', // leaves the root through ..
      'data/x', // relative: lies nowhere in particular
    ];
    for (const hostPath of outside) {
      for (const approved of [false, true]) {
        const spec = { mounts: [{ hostPath: '/data/ok', sandboxPath: '/ok', writable: false }, { hostPath, sandboxPath: '/x', writable: false }] };
        const d = engine.evaluate(request('agent', 'create', { spec, approved }));
        assert.deepEqual(d.decision, 'deny', `agent ${hostPath} approved=${approved}`);
        assert.deepEqual(d.policyIds, ['host-grants-within-roots']);
        // Operators run the host: the roots confine everyone else (the grant code still refuses never-grantable paths).
        assert.equal(engine.evaluate(request('operator', 'create', { spec, approved })).decision, 'allow', `operator ${hostPath}`);
      }
    }
    const noRoots: PolicyRequest = { ...request('agent', 'create', { spec: { mounts: [{ hostPath: '/data/x', sandboxPath: '/x', writable: false }] } }), settings: { defaultImage: 'default', hostRoots: [] } };
    assert.equal(engine.evaluate(noRoots).decision, 'deny', 'no configured roots: no grants at all for agents');
  });

  test('an agent may not run another image, approval or not', () => {
    for (const approved of [false, true]) {
      const d = engine.evaluate(request('agent', 'execute', { spec: { image: 'toolchain' }, approved }));
      assert.equal(d.decision, 'deny', `approved=${approved}`);
    }
    // The default image is what the host calls default, not a fixed name.
    const renamed: PolicyRequest = { ...request('agent', 'execute', { spec: { image: 'base' } }), settings: { ...SETTINGS, defaultImage: 'base' } };
    assert.equal(engine.evaluate(renamed).decision, 'allow');
  });

  test('a request that does not fit the schema is denied with the reason', () => {
    const d = engine.evaluate({ ...request('agent', 'create'), action: 'launch' as PolicyAction });
    assert.equal(d.decision, 'deny');
    assert.deepEqual(d.reasons, ['request does not fit the policy schema']);
    assert.match(d.errors.join('\n'), /launch/, "Cedar's detail is kept for the log");
    // A wrongly typed attribute of the resource: the detail may quote it, the reason never does.
    const secret = { ...request('agent', 'exec', { owner: 'agent-2' }), sandbox: { id: 'sb-secret', owner: 'agent-2', spec: { ...SPEC, limits: { ...SPEC.limits, memoryMb: Number.NaN } } } };
    const malformed = engine.evaluate(secret);
    assert.equal(malformed.decision, 'deny');
    assert.deepEqual(malformed.reasons, ['request does not fit the policy schema']);
    assert.ok(malformed.errors.length > 0, 'the evaluation failed, as intended');
    assert.throws(() => engine.evaluate({ ...request('agent', 'exec'), sandbox: undefined }), /names no sandbox/);
  });
});
