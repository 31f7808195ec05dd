import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from '../policy/engine.ts';
import { SHIPPED_POLICY_DIR } from '../policy/bundle-files.ts';
import type { SandboxSpec } from '../policy/request.ts';
import { Admission, type AdmissionInput, type ApprovalStep, type ContractCheck } from './admission.ts';
import type { Caller } from './caller.ts';
import { AdmissionRefusal } from './refusal.ts';
import { refusalOf } from './test-helpers.ts';
import { DEFAULT_TEST_SPEC } from '../policy/test-spec.ts';

const SPEC: SandboxSpec = DEFAULT_TEST_SPEC;
const SETTINGS = { defaultImage: 'default', hostRoots: ['/srv'] };
const ALICE: Caller = { name: 'alice', role: 'agent', agentId: 'alice', groups: [], via: 'signature' };
const BOB: Caller = { name: 'bob', role: 'agent', agentId: 'bob', groups: [], via: 'signature' };

/** The gate's side of the contract, recording what admission asked of it (the gate itself is tested in src/approvals/). */
class RecordingGate implements ApprovalStep {
  readonly opened: unknown[] = [];
  readonly redeemed: unknown[] = [];
  async open(input: Parameters<ApprovalStep['open']>[0]) {
    this.opened.push(input);
    return { approval_id: `apr_${this.opened.length}`, expires_at: '2030-01-01T00:00:00.000Z' };
  }
  async redeem(input: Parameters<ApprovalStep['redeem']>[0]) {
    this.redeemed.push(input);
  }
}

function create(caller: Caller, spec: Partial<SandboxSpec> = {}, extra: Partial<AdmissionInput> = {}): AdmissionInput {
  const full = { ...SPEC, ...spec };
  return { caller, action: 'create', sandbox: { id: 'new', owner: caller.agentId, spec: full }, request: full, parameters: { spec: full }, ...extra };
}

describe('Admission', () => {
  let engine: PolicyEngine;
  before(async () => {
    engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
  });

  it('admits what policy allows, with a digest that depends on every resolved parameter', async () => {
    const admission = new Admission({ engine, settings: SETTINGS });
    const a = await admission.admit(create(ALICE));
    const b = await admission.admit(create(ALICE));
    const c = await admission.admit(create(ALICE, { limits: { ...SPEC.limits, pids: 255 } }));
    assert.ok(a.admitted && b.admitted && c.admitted);
    assert.equal(a.actionDigest, b.actionDigest);
    assert.notEqual(a.actionDigest, c.actionDigest);
    assert.match(a.actionDigest, /^sha256:[0-9a-f]{64}$/);
  });

  it("refuses another tenant's sandbox at the authorize step, naming the tenancy rule", async () => {
    const admission = new Admission({ engine, settings: SETTINGS });
    const r = await refusalOf(admission.admit({ caller: BOB, action: 'exec', sandbox: { id: 's-1', owner: 'alice', spec: SPEC }, parameters: {} }));
    assert.deepEqual([r.step, r.code, r.policyIds], ['authorize', 'forbidden', ['agent-own-sandboxes-only']]);
    assert.match(r.message, /agents act only on sandboxes they own/);
    assert.doesNotMatch(r.message, /alice/, 'the refusal says nothing of the other tenant');
    assert.equal(admission.permits(BOB, 'read', { id: 's-1', owner: 'alice', spec: SPEC }), false);
    assert.equal(admission.permits(ALICE, 'read', { id: 's-1', owner: 'alice', spec: SPEC }), true);
  });

  it('opens an approval when policy asks for one, and redeems an attached one before deciding', async () => {
    const gate = new RecordingGate();
    const admission = new Admission({ engine, settings: SETTINGS, approvals: gate });
    const full = { network: { mode: 'full' as const, allowedHosts: [] } };
    const pending = await admission.admit(create(ALICE, full));
    assert.equal(pending.admitted, false);
    assert.equal(gate.opened.length, 1);
    const admitted = await admission.admit(create(ALICE, full, { approvalId: 'apr_1' }));
    assert.ok(admitted.admitted && admitted.approved);
    assert.deepEqual(gate.redeemed, [{ approvalId: 'apr_1', actionDigest: pending.actionDigest, requester: ALICE }]);
  });

  it('an approval covers the image the request resolved: a tag re-pointed before the retry needs a new one', async () => {
    const gate = new RecordingGate();
    const admission = new Admission({ engine, settings: SETTINGS, approvals: gate });
    const full = { network: { mode: 'full' as const, allowedHosts: [] } };
    const resolvedAs = (digest: string) => ({ image: { name: 'default', digest } as unknown as NonNullable<AdmissionInput['image']> });
    const first = await admission.admit(create(ALICE, full, resolvedAs(`sha256:${'a'.repeat(64)}`)));
    const again = await admission.admit(create(ALICE, full, resolvedAs(`sha256:${'a'.repeat(64)}`)));
    const moved = await admission.admit(create(ALICE, full, resolvedAs(`sha256:${'b'.repeat(64)}`)));
    assert.equal(first.actionDigest, again.actionDigest, 'the same image: the same action');
    assert.notEqual(first.actionDigest, moved.actionDigest, 'the same name, another image: another action');
    // What the approver is shown names the digest too.
    assert.equal((gate.opened[0] as { summary: { image_digest: string } }).summary.image_digest, `sha256:${'a'.repeat(64)}`);
  });

  it('without a gate, a request that needs approval is refused as unavailable', async () => {
    const admission = new Admission({ engine, settings: SETTINGS });
    const r = await refusalOf(admission.admit(create(ALICE, { network: { mode: 'full', allowedHosts: [] } })));
    assert.deepEqual([r.step, r.code, r.policyIds], ['approval', 'approval_unavailable', ['agent-configure-with-approval']]);
  });

  it('an approval does not lift a forbid: a grant outside the roots stays denied after redeeming', async () => {
    const gate = new RecordingGate();
    const admission = new Admission({ engine, settings: SETTINGS, approvals: gate });
    const r = await refusalOf(admission.admit(create(ALICE, { mounts: [{ hostPath: '/etc', sandboxPath: '/e', writable: false }] }, { approvalId: 'apr_9' })));
    assert.deepEqual([r.code, r.policyIds], ['forbidden', ['host-grants-within-roots']]);
    assert.equal(gate.redeemed.length, 0, 'denied outright: the approval is not consumed');
  });

  it('contract checks run after authorization and can refuse', async () => {
    const seen: string[] = [];
    const contract: ContractCheck = (input) => {
      seen.push(input.action);
      throw new AdmissionRefusal('contract', 'forbidden', 'revoked');
    };
    const admission = new Admission({ engine, settings: SETTINGS, contracts: [contract] });
    assert.equal((await refusalOf(admission.admit(create(ALICE)))).step, 'contract');
    await refusalOf(admission.admit({ caller: BOB, action: 'kill', sandbox: { id: 's-1', owner: 'alice', spec: SPEC }, parameters: {} }));
    assert.deepEqual(seen, ['create'], 'a request policy denies never reaches the contracts');
  });
});
