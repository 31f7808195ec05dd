/**
 * Signed approvals end to end over HTTP, every step a signed request with a real key: the agent's
 * request answers 202, an approver signs a decision with its own key, the agent retries naming the
 * approval and it runs, exactly once and only as approved. Every refusal, tenancy of approvals,
 * expiry, and a controller restart with a pending approval.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHIPPED_POLICY_DIR } from '../../src/policy/bundle-files.ts';
import { describe, it } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { assertError } from '../api/helpers.ts';
import { decide, decisionBody, FULL, pending, retry, stateOf } from './approval-steps.ts';
import { addKeyedPrincipal, castFixture, controller, send, type KeyedPrincipal, type Send } from './fixture.ts';

describe('approvals over HTTP', () => {
  it('202 → approver signs → retry with Airlock-Approval runs it once, exactly as approved; a second use is approval_reused', async (t) => {
    const f = await castFixture(t);
    const { id, digest } = await pending(f.app, f.people.alice);
    assertError(await retry(f.app, f.people.alice, id), 409, 'approval_pending');
    const decided = await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve'));
    assert.equal(decided.statusCode, 200, decided.body);
    assert.deepEqual([decided.json().state, decided.json().decided_by], ['approved', 'petra']);
    const run = await retry(f.app, f.people.alice, id);
    assert.equal(run.statusCode, 201, run.body);
    assert.deepEqual([run.json().owner, run.json().network_policy], ['alice', 'full']);
    assert.equal(await stateOf(f.app, f.people.alice, id), 'consumed');
    assertError(await retry(f.app, f.people.alice, id), 403, 'approval_reused');
    assert.equal(f.service.created.length, 1);
  });

  it('the same round trip for a one-shot execute answers 200', async (t) => {
    const f = await castFixture(t);
    const req: Send = { method: 'POST', url: '/api/v1/sandbox/execute', payload: { code: 'print(1)', language: 'python', agent_id: 'alice', network_policy: 'full' } };
    const { id, digest } = await pending(f.app, f.people.alice, req);
    assert.equal((await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve'))).statusCode, 200);
    const run = await retry(f.app, f.people.alice, id, req);
    assert.equal(run.statusCode, 200, run.body);
    assert.equal(f.service.executed[0]?.network?.mode, 'full');
  });

  it('a retry with a changed parameter is approval_digest_mismatch and does not use the approval up', async (t) => {
    const f = await castFixture(t);
    const { id, digest } = await pending(f.app, f.people.alice);
    assert.equal((await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve'))).statusCode, 200);
    const payload = FULL.payload as Record<string, unknown>;
    for (const changed of [{ ...payload, ttl_seconds: 601 }, { ...payload, metadata: { task: 'other' } }, { ...payload, environment: { X: '1' } }]) {
      assertError(await retry(f.app, f.people.alice, id, { ...FULL, payload: changed }), 403, 'approval_digest_mismatch');
    }
    // Another action on the same approval id: also another digest.
    const asRun: Send = { method: 'POST', url: '/api/v1/sandbox/execute', payload: { code: 'print(1)', language: 'python', agent_id: 'alice', network_policy: 'full' } };
    assertError(await retry(f.app, f.people.alice, id, asRun), 403, 'approval_digest_mismatch');
    assert.equal(await stateOf(f.app, f.people.alice, id), 'approved');
    assert.deepEqual([f.service.created.length, f.service.executed.length], [0, 0]);
    assert.equal((await retry(f.app, f.people.alice, id)).statusCode, 201);
  });

  it('a denied approval is approval_denied on retry', async (t) => {
    const f = await castFixture(t);
    const { id, digest } = await pending(f.app, f.people.alice);
    const res = await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'deny'));
    assert.equal(res.json().state, 'denied');
    assertError(await retry(f.app, f.people.alice, id), 403, 'approval_denied');
    // Once decided, it stays decided.
    assertError(await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve')), 409, 'approval_already_decided');
    assert.equal(f.service.created.length, 0);
  });

  it('refuses self-approval, signers without the approver role, and forged or replayed decisions; the approval stays pending', async (t) => {
    const f = await castFixture(t);
    // An approver of alice's own tenant is alice approving herself.
    const alicia = await addKeyedPrincipal(f.store, 'alicia', 'approver', 'alice');
    const { id, digest } = await pending(f.app, f.people.alice);
    assertError(await decide(f.app, alicia, id, decisionBody(alicia, id, digest, 'approve')), 403, 'self_approval');
    for (const signer of [f.people.alice, f.people.bob, f.people.olga]) {
      assertError(await decide(f.app, f.people.petra, id, decisionBody(signer, id, digest, 'approve')), 403, 'approver_role_required');
    }
    // The agent submits a decision it forged with its own key but petra's key id.
    const forged = { ...decisionBody(f.people.alice, id, digest, 'approve'), key_id: f.people.petra.keyId };
    assertError(await decide(f.app, f.people.alice, id, forged), 403, 'approval_signature_invalid');
    // A real decision with one field changed after signing.
    const signed = decisionBody(f.people.petra, id, digest, 'deny');
    assertError(await decide(f.app, f.people.petra, id, { ...signed, decision: 'approve' }), 403, 'approval_signature_invalid');
    // A decision for another action's digest.
    const other = `sha256:${'0'.repeat(64)}`;
    assertError(await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, other, 'approve')), 403, 'approval_digest_mismatch');
    // A decision signed for another approval.
    const second = await pending(f.app, f.people.alice, { ...FULL, payload: { network_policy: 'full' } });
    assertError(await decide(f.app, f.people.petra, id, { ...decisionBody(f.people.petra, second.id, digest, 'approve') }), 403, 'approval_signature_invalid');
    assert.equal(await stateOf(f.app, f.people.petra, id), 'pending');
    // A nonce used once is never accepted again, even on another approval.
    const nonce = randomBytes(16).toString('base64url');
    assert.equal((await decide(f.app, f.people.petra, second.id, decisionBody(f.people.petra, second.id, second.digest, 'approve', { nonce }))).statusCode, 200);
    assertError(await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve', { nonce })), 403, 'approval_nonce_replayed');
    assert.equal(await stateOf(f.app, f.people.petra, id), 'pending');
    // A revoked approver key decides nothing.
    await f.store.revokeKey(f.people.petra.keyId);
    assertError(await decide(f.app, f.people.olga, id, decisionBody(f.people.petra, id, digest, 'approve')), 403, 'approval_signature_invalid');
    assert.equal(await stateOf(f.app, f.people.olga, id), 'pending');
  });

  it("an agent sees neither another tenant's approvals nor can it use or decide them", async (t) => {
    const f = await castFixture(t);
    const { id, digest } = await pending(f.app, f.people.alice);
    const bobs = await pending(f.app, f.people.bob);
    const list = (who: KeyedPrincipal) => send(f.app, who, { method: 'GET', url: '/api/v1/approvals' });
    assert.deepEqual((await list(f.people.bob)).json().approvals.map((a: { approval_id: string }) => a.approval_id), [bobs.id]);
    assert.ok(!(await list(f.people.bob)).body.includes(id));
    assert.equal((await list(f.people.petra)).json().total_count, 2);
    assert.equal((await list(f.people.olga)).json().total_count, 2);
    for (const unknown of [id, 'apr_doesnotexist']) {
      const error = assertError(await send(f.app, f.people.bob, { method: 'GET', url: `/api/v1/approvals/${unknown}` }), 404, 'approval_not_found');
      assert.ok(!error.message.includes('alice'));
    }
    // Bob submits petra's real approval of alice's request: not his to see, so not his to submit.
    assertError(await decide(f.app, f.people.bob, id, decisionBody(f.people.petra, id, digest, 'approve')), 404, 'approval_not_found');
    assert.equal((await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve'))).statusCode, 200);
    // Bob's identical request naming alice's approved approval: not his.
    assertError(await retry(f.app, f.people.bob, id), 404, 'approval_not_found');
    assert.equal(f.service.created.length, 0);
    assert.equal((await retry(f.app, f.people.alice, id)).statusCode, 201);
  });

  it('an approval attached to a request policy allows outright is still checked', async (t) => {
    const f = await castFixture(t);
    const plain: Send = { method: 'POST', url: '/api/v1/sandboxes', payload: {} };
    for (const bogus of ['apr_madeup', '../../etc/passwd', 'x'.repeat(2000), "' OR 1=1 --"]) {
      assertError(await retry(f.app, f.people.alice, bogus, plain), 404, 'approval_not_found');
    }
    assert.equal(f.service.created.length, 0);
  });

  it('approvals expire on time: undecided, or approved but not used before the decision lapses', async (t) => {
    const f = await castFixture(t, { approvalTtlSeconds: 1.5 });
    const undecided = await pending(f.app, f.people.alice);
    const unused = await pending(f.app, f.people.alice, { ...FULL, payload: { network_policy: 'full' } });
    const approved = await decide(f.app, f.people.petra, unused.id, decisionBody(f.people.petra, unused.id, unused.digest, 'approve', { expiresInSeconds: 0.4 }));
    assert.equal(approved.statusCode, 200, approved.body);
    // The decision lapsed, the approval itself (1.5 s) not yet: the signer's expiry holds.
    await new Promise((r) => setTimeout(r, 600));
    assertError(await retry(f.app, f.people.alice, unused.id, { ...FULL, payload: { network_policy: 'full' } }), 403, 'approval_expired');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(await stateOf(f.app, f.people.petra, undecided.id), 'expired');
    assertError(await decide(f.app, f.people.petra, undecided.id, decisionBody(f.people.petra, undecided.id, undecided.digest, 'approve', { expiresInSeconds: 60 })), 403, 'approval_expired');
    assertError(await retry(f.app, f.people.alice, undecided.id), 403, 'approval_expired');
    assert.equal(f.service.created.length, 0);
  });

  it('a pending approval survives a controller restart and can then be decided and used', async (t) => {
    const f = await castFixture(t);
    const { id, digest } = await pending(f.app, f.people.alice);
    await f.app.close();
    await f.store.close();
    const reopened = await SqliteStore.open({ path: f.path });
    t.after(() => reopened.close());
    const { app, service } = await controller(t, reopened);
    assert.equal(await stateOf(app, f.people.petra, id), 'pending');
    assert.equal((await decide(app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve'))).statusCode, 200);
    const run = await retry(app, f.people.alice, id);
    assert.equal(run.statusCode, 201, run.body);
    assert.equal(service.created.length, 1);
  });
  it("the bundle's approve policies hold: a forbid on approving full egress refuses the approver's decision, naming it", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-approve-bundle-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await cp(SHIPPED_POLICY_DIR, dir, { recursive: true });
    await writeFile(
      join(dir, 'local.cedar'),
      '@id("no-full-egress-approvals")\n@reason("full egress is never approved here")\nforbid (principal, action == Airlock::Action::"approve", resource)\nwhen { resource.spec.network.mode == "full" };\n',
    );
    const f = await castFixture(t, { policyDir: dir });
    const { id, digest } = await pending(f.app, f.people.alice);
    const refused = assertError(await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve')), 403, 'approver_role_required');
    assert.match(refused.message, /no-full-egress-approvals/);
    assert.equal(await stateOf(f.app, f.people.alice, id), 'pending');
  });
});
