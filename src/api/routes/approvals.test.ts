import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import Fastify from 'fastify';
import type { Caller } from '../../admission/caller.ts';
import { actionDigest } from '../../approvals/gate.ts';
import { approvalFixture, signedDecision } from '../../approvals/test-approvals.ts';
import '../caller-decoration.ts';
import { errorStatus } from '../error-codes.ts';
import { handleError } from '../errors.ts';
import { APPROVAL_REFUSAL_CODES, type ApprovalRefusalCode } from '../../approvals/refusal.ts';
import { ApprovalInfo, ApprovalList } from '../schemas-approvals.ts';
import { registerApprovalRoutes } from './approvals.ts';

const DIGEST = actionDigest({ action: 'create', network: 'full' });

/** The routes on a bare Fastify whose hook takes the caller from a test header (authentication is not under test here). */
async function server(t: TestContext, withCallerHook = true) {
  const fixture = await approvalFixture(t);
  const callers = new Map<string, Caller>(Object.values(fixture.people).map((p) => [p.caller.name, p.caller]));
  const app = Fastify();
  app.setErrorHandler(handleError);
  if (withCallerHook) {
    app.addHook('onRequest', async (request) => {
      request.caller = callers.get(String(request.headers['x-test-caller']));
    });
  }
  registerApprovalRoutes(app, fixture.gate);
  t.after(() => app.close());
  const open = (who: Caller) => fixture.gate.open({ requester: who, action: 'create', actionDigest: DIGEST, summary: { network: 'full' }, policyIds: ['p'], reasons: ['r'] });
  return { ...fixture, app, open };
}

describe('approval routes', () => {
  it('gives every approval code its documented status', () => {
    const statuses = Object.fromEntries((Object.keys(APPROVAL_REFUSAL_CODES) as ApprovalRefusalCode[]).map((code) => [code, errorStatus(code)]));
    assert.deepEqual(statuses, {
      approval_not_found: 404, approval_expired: 403, approval_signature_invalid: 403, approver_role_required: 403, self_approval: 403, approval_digest_mismatch: 403,
      approval_nonce_replayed: 403, approval_already_decided: 409, approval_pending: 409, approval_denied: 403, approval_reused: 403, approval_decision_invalid: 400,
    });
  });

  it('lists by tenant and shows one approval in the documented shape', async (t) => {
    const { app, open, people } = await server(t);
    const mine = await open(people.alice.caller);
    await open(people.mallory.caller);
    const asAlice = await app.inject({ method: 'GET', url: '/api/v1/approvals', headers: { 'x-test-caller': 'alice' } });
    assert.equal(asAlice.statusCode, 200);
    const list = ApprovalList.parse(asAlice.json());
    assert.deepEqual([list.total_count, list.approvals[0]?.approval_id], [1, mine.approval_id]);
    const asBob = await app.inject({ method: 'GET', url: '/api/v1/approvals', headers: { 'x-test-caller': 'bob' } });
    assert.equal(asBob.json().total_count, 2);
    const one = await app.inject({ method: 'GET', url: `/api/v1/approvals/${mine.approval_id}`, headers: { 'x-test-caller': 'alice' } });
    assert.deepEqual(ApprovalInfo.parse(one.json()), mine);
  });

  it("answers another tenant's approval 404, the same as an unknown one", async (t) => {
    const { app, open, people } = await server(t);
    const mine = await open(people.alice.caller);
    for (const id of [mine.approval_id, 'apr_unknown']) {
      const res = await app.inject({ method: 'GET', url: `/api/v1/approvals/${id}`, headers: { 'x-test-caller': 'mallory' } });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().error.code, 'approval_not_found');
    }
  });

  it('decides with a signed decision; a replay is 403 and a second decision 409', async (t) => {
    const { app, open, people, clock } = await server(t);
    const a = await open(people.alice.caller);
    const decision = signedDecision(people.bob, a.approval_id, DIGEST, 'approve', clock.ms);
    const url = `/api/v1/approvals/${a.approval_id}/decision`;
    const ok = await app.inject({ method: 'POST', url, headers: { 'x-test-caller': 'bob' }, payload: decision });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual([ok.json().state, ok.json().decided_by], ['approved', 'bob']);
    const replay = await app.inject({ method: 'POST', url, headers: { 'x-test-caller': 'bob' }, payload: decision });
    assert.deepEqual([replay.statusCode, replay.json().error.code], [403, 'approval_nonce_replayed']);
    const again = await app.inject({ method: 'POST', url, headers: { 'x-test-caller': 'bob' }, payload: signedDecision(people.bob, a.approval_id, DIGEST, 'deny', clock.ms) });
    assert.deepEqual([again.statusCode, again.json().error.code], [409, 'approval_already_decided']);
  });

  it('refuses an operator-signed decision 403 and a malformed body 400 listing every field, changing nothing', async (t) => {
    const { app, open, people, clock, gate } = await server(t);
    const a = await open(people.alice.caller);
    const url = `/api/v1/approvals/${a.approval_id}/decision`;
    const byOperator = await app.inject({ method: 'POST', url, headers: { 'x-test-caller': 'olga' }, payload: signedDecision(people.olga, a.approval_id, DIGEST, 'approve', clock.ms) });
    assert.deepEqual([byOperator.statusCode, byOperator.json().error.code], [403, 'approver_role_required']);
    const bad = await app.inject({ method: 'POST', url, headers: { 'x-test-caller': 'bob' }, payload: { decision: 'maybe', action_digest: 'x', nonce: 'n', expires_at: 'soon', key_id: 'k', signature: 's', extra: 1 } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'invalid_request');
    const paths = (bad.json().error.details as { path: string }[]).map((d) => d.path).sort();
    assert.deepEqual(paths, ['body', 'body.action_digest', 'body.decision', 'body.expires_at', 'body.key_id', 'body.nonce', 'body.signature']);
    assert.equal((await gate.get(a.approval_id, people.bob.caller)).state, 'pending');
  });

  it('fails closed (500) when no authentication hook set a caller', async (t) => {
    const { app } = await server(t, false);
    const res = await app.inject({ method: 'GET', url: '/api/v1/approvals' });
    assert.deepEqual([res.statusCode, res.json().error.code], [500, 'internal_error']);
  });
});
