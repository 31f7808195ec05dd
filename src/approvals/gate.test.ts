import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { actionDigest, ApprovalRefusal, StoreApprovalGate, type ApprovalGate } from './gate.ts';
import { addPrincipal, approvalFixture, signedDecision } from './test-approvals.ts';
import type { Caller } from '../admission/caller.ts';
import { signDecision } from './decision-signature.ts';

const request = { principal: 'alice', action: 'create', network: { mode: 'full' }, image: 'default' };
const DIGEST = actionDigest(request);

function refused(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ApprovalRefusal, `expected ApprovalRefusal ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

async function openFor(gate: ApprovalGate, requester: Caller, digest = DIGEST) {
  return gate.open({ requester, action: 'create', actionDigest: digest, summary: request, policyIds: ['agent-configure-with-approval'], reasons: ['full egress needs approval'] });
}

describe('actionDigest', () => {
  it('is the SHA-256 of the RFC 8785 form: key order does not matter, any changed value does', () => {
    assert.match(DIGEST, /^sha256:[0-9a-f]{64}$/);
    assert.equal(actionDigest({ image: 'default', network: { mode: 'full' }, action: 'create', principal: 'alice' }), DIGEST);
    assert.notEqual(actionDigest({ ...request, image: 'other' }), DIGEST);
    // RFC 8785 §3.2.2.3 number form: 1e21 and 1E21 are one number.
    assert.equal(actionDigest({ n: 1e21 }), actionDigest(JSON.parse('{"n":1E21}')));
  });
});

describe('approval gate', () => {
  it('approve round trip: pending, approved by an approver, redeemed once', async (t) => {
    const { gate, clock, people } = await approvalFixture(t);
    const pending = await openFor(gate, people.alice.caller);
    assert.match(pending.approval_id, /^apr_[A-Za-z0-9_-]{24}$/);
    assert.deepEqual([pending.state, pending.action_digest, pending.requester], ['pending', DIGEST, { name: 'alice', agent_id: 'alice' }]);
    assert.equal(Date.parse(pending.expires_at) - Date.parse(pending.created_at), 900_000);
    assert.deepEqual(pending.summary, request);

    const decided = await gate.decide({ approvalId: pending.approval_id, decision: signedDecision(people.bob, pending.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller });
    assert.deepEqual([decided.state, decided.decided_by], ['approved', 'bob']);
    await gate.redeem({ approvalId: pending.approval_id, actionDigest: DIGEST, requester: people.alice.caller });
    assert.equal((await gate.get(pending.approval_id, people.alice.caller)).state, 'consumed');
    await assert.rejects(gate.redeem({ approvalId: pending.approval_id, actionDigest: DIGEST, requester: people.alice.caller }), refused('approval_reused'));
  });

  it('refuses to redeem a pending, denied, unknown or foreign approval', async (t) => {
    const { gate, clock, people } = await approvalFixture(t);
    const a = await openFor(gate, people.alice.caller);
    await assert.rejects(gate.redeem({ approvalId: a.approval_id, actionDigest: DIGEST, requester: people.alice.caller }), refused('approval_pending'));
    await assert.rejects(gate.redeem({ approvalId: a.approval_id, actionDigest: DIGEST, requester: people.mallory.caller }), refused('approval_not_found'));
    await assert.rejects(gate.redeem({ approvalId: 'apr_nonexistent', actionDigest: DIGEST, requester: people.alice.caller }), refused('approval_not_found'));
    await gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'deny', clock.ms), submitter: people.bob.caller });
    await assert.rejects(gate.redeem({ approvalId: a.approval_id, actionDigest: DIGEST, requester: people.alice.caller }), refused('approval_denied'));
  });

  it('a changed request is a digest mismatch and does not use up the approval', async (t) => {
    const { gate, clock, people } = await approvalFixture(t);
    const a = await openFor(gate, people.alice.caller);
    await gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller });
    const changed = actionDigest({ ...request, image: 'other' });
    await assert.rejects(gate.redeem({ approvalId: a.approval_id, actionDigest: changed, requester: people.alice.caller }), refused('approval_digest_mismatch'));
    await gate.redeem({ approvalId: a.approval_id, actionDigest: DIGEST, requester: people.alice.caller });
  });

  it('refuses forged, tampered, unknown-key and revoked-key decisions', async (t) => {
    const { gate, clock, store, people } = await approvalFixture(t);
    const a = await openFor(gate, people.alice.caller);
    const id = a.approval_id;
    const forged = { ...signedDecision(people.mallory, id, DIGEST, 'approve', clock.ms), key_id: people.bob.keyId };
    await assert.rejects(gate.decide({ approvalId: id, decision: forged, submitter: people.alice.caller }), refused('approval_signature_invalid'));
    const tampered = { ...signedDecision(people.bob, id, DIGEST, 'deny', clock.ms), decision: 'approve' as const };
    await assert.rejects(gate.decide({ approvalId: id, decision: tampered, submitter: people.bob.caller }), refused('approval_signature_invalid'));
    // Signed for another approval id: the id is part of what is signed.
    const other = await openFor(gate, people.alice.caller);
    await assert.rejects(gate.decide({ approvalId: id, decision: signedDecision(people.bob, other.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller }), refused('approval_signature_invalid'));
    const unknownKey = { ...signedDecision(people.bob, id, DIGEST, 'approve', clock.ms), key_id: 'A'.repeat(43) };
    await assert.rejects(gate.decide({ approvalId: id, decision: unknownKey, submitter: people.bob.caller }), refused('approval_signature_invalid'));
    await store.revokeKey(people.bob.keyId);
    await assert.rejects(gate.decide({ approvalId: id, decision: signedDecision(people.bob, id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller }), refused('approval_signature_invalid'));
    assert.equal((await gate.get(id, people.olga.caller)).state, 'pending');
  });

  it('only the approver role decides, never the requester or its own tenant', async (t) => {
    const { gate, clock, people, store } = await approvalFixture(t);
    const a = await openFor(gate, people.alice.caller);
    const id = a.approval_id;
    for (const signer of [people.olga, people.mallory, people.alice]) {
      // Submitted by an operator: what decides is the key that signed, not who relays it.
      await assert.rejects(gate.decide({ approvalId: id, decision: signedDecision(signer, id, DIGEST, 'approve', clock.ms), submitter: people.olga.caller }), refused('approver_role_required'));
    }
    await assert.rejects(gate.decide({ approvalId: id, decision: signedDecision(people.alicia, id, DIGEST, 'approve', clock.ms), submitter: people.alicia.caller }), refused('self_approval'));
    // An approver asking for an approval cannot grant it to itself either.
    const dave = await addPrincipal(store, 'dave', 'approver');
    const own = await openFor(gate, dave.caller);
    await assert.rejects(gate.decide({ approvalId: own.approval_id, decision: signedDecision(dave, own.approval_id, DIGEST, 'approve', clock.ms), submitter: dave.caller }), refused('self_approval'));
  });

  it('refuses a decision for another digest, a replayed nonce and a second decision', async (t) => {
    const { gate, clock, people } = await approvalFixture(t);
    const a = await openFor(gate, people.alice.caller);
    const id = a.approval_id;
    const wrong = actionDigest({ ...request, image: 'other' });
    await assert.rejects(gate.decide({ approvalId: id, decision: signedDecision(people.bob, id, wrong, 'approve', clock.ms), submitter: people.bob.caller }), refused('approval_digest_mismatch'));
    const decision = signedDecision(people.bob, id, DIGEST, 'approve', clock.ms);
    await gate.decide({ approvalId: id, decision, submitter: people.bob.caller });
    await assert.rejects(gate.decide({ approvalId: id, decision, submitter: people.bob.caller }), refused('approval_nonce_replayed'));
    await assert.rejects(gate.decide({ approvalId: id, decision: signedDecision(people.bob, id, DIGEST, 'deny', clock.ms), submitter: people.bob.caller }), refused('approval_already_decided'));
    // The nonce is spent for every approval, not only the one it decided.
    const b = await openFor(gate, people.alice.caller);
    const fields = { action_digest: DIGEST, decision: 'approve' as const, nonce: decision.nonce, expires_at: decision.expires_at };
    const reused = { ...fields, key_id: people.bob.keyId, signature: signDecision(people.bob.privateKey, { approval_id: b.approval_id, ...fields }) };
    await assert.rejects(gate.decide({ approvalId: b.approval_id, decision: reused, submitter: people.bob.caller }), refused('approval_nonce_replayed'));
  });

  it('expires on time: pending ones, a decision past its own expiry, and an approved one not used in time', async (t) => {
    const { gate, clock, people } = await approvalFixture(t, 60);
    const a = await openFor(gate, people.alice.caller);
    await assert.rejects(gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms, 120), submitter: people.bob.caller }), refused('approval_decision_invalid'));
    await assert.rejects(gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms, -1), submitter: people.bob.caller }), refused('approval_expired'));
    const b = await openFor(gate, people.alice.caller);
    await gate.decide({ approvalId: b.approval_id, decision: signedDecision(people.bob, b.approval_id, DIGEST, 'approve', clock.ms, 30), submitter: people.bob.caller });
    clock.advance(30);
    // Approved, but its decision said "until now": no longer usable.
    assert.equal((await gate.get(b.approval_id, people.alice.caller)).state, 'expired');
    await assert.rejects(gate.redeem({ approvalId: b.approval_id, actionDigest: DIGEST, requester: people.alice.caller }), refused('approval_expired'));
    clock.advance(30);
    assert.equal((await gate.get(a.approval_id, people.alice.caller)).state, 'expired');
    await assert.rejects(gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms - 10_000, 5), submitter: people.bob.caller }), refused('approval_expired'));
  });

  it('keeps tenants apart: an agent sees, decides and lists only its own', async (t) => {
    const { gate, clock, people } = await approvalFixture(t);
    const a = await openFor(gate, people.alice.caller);
    await openFor(gate, people.mallory.caller);
    await assert.rejects(gate.get(a.approval_id, people.mallory.caller), refused('approval_not_found'));
    await assert.rejects(gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms), submitter: people.mallory.caller }), refused('approval_not_found'));
    assert.deepEqual((await gate.list(people.mallory.caller)).map((v) => v.requester.name), ['mallory']);
    assert.deepEqual((await gate.list(people.alice.caller)).map((v) => v.approval_id), [a.approval_id]);
    assert.equal((await gate.list(people.bob.caller)).length, 2);
    assert.equal((await gate.list(people.olga.caller)).length, 2);
  });

  it('refuses a malformed decision before looking anything up', async (t) => {
    const { gate, clock, people } = await approvalFixture(t);
    const a = await openFor(gate, people.alice.caller);
    const good = signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms);
    for (const bad of [{ nonce: 'short' }, { expires_at: '2026-12-06 10:05:00' }, { expires_at: '2026-02-30T00:00:00Z' }, { signature: 'x' }, { action_digest: 'md5:00' }, { decision: 'maybe' }]) {
      await assert.rejects(gate.decide({ approvalId: a.approval_id, decision: { ...good, ...bad } as typeof good, submitter: people.bob.caller }), refused('approval_decision_invalid'));
    }
    assert.equal((await gate.get(a.approval_id, people.bob.caller)).state, 'pending');
  });

  it('a pending approval survives a restart and still expires on time', async (t) => {
    const { gate, clock, people, store, path } = await approvalFixture(t, 120);
    const a = await openFor(gate, people.alice.caller);
    await store.close();
    clock.advance(60);
    const reopened = await SqliteStore.open({ path, now: clock.now });
    t.after(() => reopened.close());
    const gate2 = new StoreApprovalGate({ store: reopened, ttlSeconds: 120, now: clock.now });
    const view = await gate2.get(a.approval_id, people.alice.caller);
    assert.deepEqual([view.state, view.action_digest, view.summary], ['pending', DIGEST, request]);
    clock.advance(60);
    assert.equal((await gate2.get(a.approval_id, people.alice.caller)).state, 'expired');
    await assert.rejects(gate2.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms - 1000, 1), submitter: people.bob.caller }), refused('approval_expired'));
  });

  it('of concurrent redeems on two connections, exactly one wins', async (t) => {
    const { gate, clock, people, path } = await approvalFixture(t);
    const a = await openFor(gate, people.alice.caller);
    await gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller });
    const second = await SqliteStore.open({ path, now: clock.now });
    t.after(() => second.close());
    const gates = [gate, new StoreApprovalGate({ store: second, now: clock.now })];
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => (gates[i % 2] as ApprovalGate).redeem({ approvalId: a.approval_id, actionDigest: DIGEST, requester: people.alice.caller })));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') refused('approval_reused')(r.reason);
  });

  it('of redeems in several processes at once, exactly one wins', async (t) => {
    const { gate, clock, people, store, path } = await approvalFixture(t);
    // The children run on the real clock.
    clock.ms = Date.now();
    const a = await openFor(gate, people.alice.caller);
    await gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller });
    await store.close();
    const script = fileURLToPath(new URL('./concurrent-redeem.fixture.ts', import.meta.url));
    const runs = await Promise.all(Array.from({ length: 4 }, () => promisify(execFile)(process.execPath, [script, path, a.approval_id, DIGEST, JSON.stringify(people.alice.caller)])));
    assert.deepEqual(runs.map((r) => r.stdout).sort(), ['approval_reused', 'approval_reused', 'approval_reused', 'redeemed']);
  });

  it('an optional signer check (e.g. Cedar approve) can refuse an approver', async (t) => {
    const { clock, people, store } = await approvalFixture(t);
    const gate = new StoreApprovalGate({ store, now: clock.now, authorizeSigner: () => ({ allowed: false, policyIds: ['no-weekend-approvals'] }) });
    const a = await openFor(gate, people.alice.caller);
    await assert.rejects(gate.decide({ approvalId: a.approval_id, decision: signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms), submitter: people.bob.caller }), (err: unknown) => refused('approver_role_required')(err) && /no-weekend-approvals/.test((err as Error).message));
  });
});
