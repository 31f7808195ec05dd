import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SHIPPED_POLICY_DIR, readBundleFiles } from '../policy/bundle-files.ts';
import { PolicyEngine } from '../policy/engine.ts';
import type { SandboxSpec } from '../policy/request.ts';
import { cedarSignerCheck } from './cedar-signer.ts';
import { actionDigest, ApprovalRefusal, StoreApprovalGate } from './gate.ts';
import { addPrincipal, approvalFixture, signedDecision } from './test-approvals.ts';
import { DEFAULT_TEST_SPEC } from '../policy/test-spec.ts';

const SPEC: SandboxSpec = { ...DEFAULT_TEST_SPEC, network: { mode: 'full', allowedHosts: [] } };
const SETTINGS = { defaultImage: 'default', hostRoots: [] };
const DIGEST = actionDigest({ action: 'create', spec: SPEC });

const SUSPENDED = `
@id("suspended-approvers")
@reason("suspended approvers decide nothing")
forbid (principal is Airlock::Approver, action == Airlock::Action::"approve", resource)
when { principal.groups.contains("suspended") };
`;

describe('Cedar approve check of the signer', () => {
  it('the shipped approver-approve policy lets an approver decide; a bundle forbidding it refuses, naming the policy', async (t) => {
    const files = await readBundleFiles(SHIPPED_POLICY_DIR);
    const engine = await PolicyEngine.fromFiles('test-bundle', [...files, { name: 'suspended.cedar', text: SUSPENDED }]);
    const { store, clock, people } = await approvalFixture(t);
    const suspended = await addPrincipal(store, 'sam', 'approver', 'sam', ['suspended']);
    const gate = new StoreApprovalGate({ store, now: clock.now, authorizeSigner: cedarSignerCheck(engine, SETTINGS, (v) => ({ id: v.sandbox_id ?? 'new', owner: v.requester.agent_id, spec: SPEC })) });
    const open = () => gate.open({ requester: people.alice.caller, action: 'create', actionDigest: DIGEST, summary: {}, policyIds: [], reasons: [] });

    const a = await open();
    const decided = await gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller });
    assert.equal(decided.state, 'approved');

    const b = await open();
    await assert.rejects(
      gate.decide({ approvalId: b.approval_id, decision: signedDecision(suspended, b.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller }),
      (err: unknown) => err instanceof ApprovalRefusal && err.code === 'approver_role_required' && /suspended-approvers/.test(err.message),
    );
  });

  it('refuses when there is no sandbox to decide on', async (t) => {
    const engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
    const { store, clock, people } = await approvalFixture(t);
    const gate = new StoreApprovalGate({ store, now: clock.now, authorizeSigner: cedarSignerCheck(engine, SETTINGS, () => undefined) });
    const a = await gate.open({ requester: people.alice.caller, action: 'create', actionDigest: DIGEST, summary: {}, policyIds: [], reasons: [] });
    await assert.rejects(gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller }), (err: unknown) => err instanceof ApprovalRefusal && err.code === 'approver_role_required');
  });
});
