import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine } from '../policy/engine.ts';
import { readBundleFiles, SHIPPED_POLICY_DIR } from '../policy/bundle-files.ts';
import type { SandboxSpec } from '../policy/request.ts';
import { DEFAULT_TEST_SPEC } from '../policy/test-spec.ts';
import { Admission, type AdmissionInput, type ApprovalStep } from './admission.ts';
import type { Caller } from './caller.ts';
import { refusalOf } from './test-helpers.ts';

const SETTINGS = { defaultImage: 'default', hostRoots: [] };
const agent = (groups: string[]): Caller => ({ name: 'alice', role: 'agent', agentId: 'alice', groups, via: 'signature' });
const OPERATOR: Caller = { name: 'root', role: 'operator', agentId: 'root', groups: [], via: 'signature' };
const APPROVER: Caller = { name: 'ann', role: 'approver', agentId: 'ann', groups: [], via: 'signature' };

function create(caller: Caller, secrets: string[], action: 'create' | 'execute' = 'create'): AdmissionInput {
  const spec: SandboxSpec = { ...DEFAULT_TEST_SPEC, secrets };
  return { caller, action, sandbox: { id: 'new', owner: caller.agentId, spec }, request: spec, parameters: { secrets } };
}

class RecordingGate implements ApprovalStep {
  readonly opened: Parameters<ApprovalStep['open']>[0][] = [];
  async open(input: Parameters<ApprovalStep['open']>[0]) {
    this.opened.push(input);
    return { approval_id: 'apr_1', expires_at: '2030-01-01T00:00:00.000Z' };
  }
  async redeem() {}
}

describe('secrets at admission: one Cedar decision per secret (secret.use)', () => {
  let engine: PolicyEngine;
  before(async () => {
    engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
  });

  it('an agent gets a secret only with its group secret.<name>; every other secret is refused by name', async () => {
    const admission = new Admission({ engine, settings: SETTINGS });
    for (const action of ['create', 'execute'] as const) {
      const ok = await admission.admit(create(agent(['secret.openai_key']), ['openai_key'], action));
      assert.ok(ok.admitted, action);
      const r = await refusalOf(admission.admit(create(agent(['secret.openai_key']), ['openai_key', 'db_password'], action)));
      assert.deepEqual([r.step, r.code], ['authorize', 'forbidden']);
      assert.match(r.message, /secret db_password: no policy permits this request/);
      assert.doesNotMatch(r.message, /openai_key/);
    }
    const none = await refusalOf(admission.admit(create(agent([]), ['openai_key'])));
    assert.match(none.message, /secret openai_key/);
  });

  it('operators are given any secret; approvers none', async () => {
    const admission = new Admission({ engine, settings: SETTINGS });
    const ok = await admission.admit(create(OPERATOR, ['openai_key', 'db_password']));
    assert.ok(ok.admitted);
    assert.ok(ok.decision.policyIds.includes('operator-all'));
    const r = await refusalOf(admission.admit(create(APPROVER, ['openai_key'])));
    assert.equal(r.code, 'forbidden');
  });

  it('a forbid on a secret is named in the refusal, and wins over the group permit', async () => {
    const files = await readBundleFiles(SHIPPED_POLICY_DIR);
    const forbid = {
      name: 'secrets.cedar',
      text: `@id("no-prod-db-for-agents")\n@reason("agents never get the production database password")\nforbid (principal is Airlock::Agent, action == Airlock::Action::"secret.use", resource == Airlock::Secret::"prod_db");\n`,
    };
    const custom = await PolicyEngine.fromFiles('custom', [...files, forbid]);
    const admission = new Admission({ engine: custom, settings: SETTINGS });
    const r = await refusalOf(admission.admit(create(agent(['secret.prod_db']), ['prod_db'])));
    assert.deepEqual(r.policyIds, ['no-prod-db-for-agents']);
    assert.match(r.message, /secret prod_db: agents never get the production database password \(no-prod-db-for-agents\)/);
  });

  it('a secret that needs approval makes the request wait for one; the summary holds names, never values', async () => {
    const files = await readBundleFiles(SHIPPED_POLICY_DIR);
    const approval = {
      name: 'secret-approval.cedar',
      text: `@id("deploy-key-with-approval")\n@approval("required")\n@reason("the deploy key needs an approver")\npermit (principal is Airlock::Agent, action == Airlock::Action::"secret.use", resource == Airlock::Secret::"deploy_key") when { context.approved };\n`,
    };
    const custom = await PolicyEngine.fromFiles('custom', [...files, approval]);
    const gate = new RecordingGate();
    const admission = new Admission({ engine: custom, settings: SETTINGS, approvals: gate });
    const pending = await admission.admit(create(agent([]), ['deploy_key']));
    assert.equal(pending.admitted, false);
    assert.deepEqual(gate.opened[0]?.policyIds, ['deploy-key-with-approval']);
    assert.match(JSON.stringify(gate.opened[0]?.summary), /"secrets":\["deploy_key"\]/);
    const approved = await admission.admit({ ...create(agent([]), ['deploy_key']), approvalId: 'apr_1' });
    assert.ok(approved.admitted && approved.approved);
  });

  it('actions on an existing sandbox decide nothing about its secrets', async () => {
    const admission = new Admission({ engine, settings: SETTINGS });
    const spec = { ...DEFAULT_TEST_SPEC, secrets: ['openai_key'] };
    const ok = await admission.admit({ caller: agent([]), action: 'exec', sandbox: { id: 's-1', owner: 'alice', spec }, parameters: {} });
    assert.ok(ok.admitted);
  });
});
