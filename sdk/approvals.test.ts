import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import canonicalize from 'canonicalize';
import Fastify from 'fastify';
import type { Caller } from '../src/admission/caller.ts';
import { verifyDecisionSignature } from '../src/approvals/decision-signature.ts';
import { actionDigest } from '../src/approvals/gate.ts';
import { approvalFixture } from '../src/approvals/test-approvals.ts';
import '../src/api/caller-decoration.ts';
import { handleError } from '../src/api/errors.ts';
import { registerApprovalRoutes } from '../src/api/routes/approvals.ts';
import { privateKeyPem } from '../src/signing/keys.ts';
import { decideApproval, decisionSigningText, getApproval, listApprovals, signApprovalDecision, waitForApproval } from './approvals.ts';
import { AirlockClient } from './client.ts';
import { importSigningKey } from './signing.ts';

const DIGEST = actionDigest({ action: 'create', network: 'full' });

/** The approval routes on a real listener; the caller comes from a test header (authentication is not under test). */
async function server(t: TestContext) {
  const fixture = await approvalFixture(t);
  const callers = new Map<string, Caller>(Object.values(fixture.people).map((p) => [p.caller.name, p.caller]));
  const app = Fastify();
  app.setErrorHandler(handleError);
  app.addHook('onRequest', async (request) => {
    request.caller = callers.get(String(request.headers['x-test-caller']));
  });
  registerApprovalRoutes(app, fixture.gate);
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const clientAs = (name: string) => new AirlockClient({ baseUrl, headers: { 'x-test-caller': name } });
  const open = () => fixture.gate.open({ requester: fixture.people.alice.caller, action: 'create', actionDigest: DIGEST, summary: { network: 'full' }, policyIds: ['p'], reasons: ['r'] });
  return { ...fixture, clientAs, open };
}

describe('SDK approvals', () => {
  it('signs exactly the RFC 8785 text the server verifies', async (t) => {
    const { people } = await approvalFixture(t);
    const key = await importSigningKey(privateKeyPem(people.bob.privateKey));
    assert.equal(key.keyId, people.bob.keyId);
    const fields = { approval_id: 'apr_x', action_digest: DIGEST, decision: 'approve' as const, expires_at: '2026-12-06T10:05:00.000Z', nonce: 'n\u00e9-"quoted"\u2028-0123456789' };
    assert.equal(decisionSigningText(fields), canonicalize(fields));
    const signed = await signApprovalDecision(key, fields);
    assert.ok(verifyDecisionSignature(people.bob.publicKey, { ...fields }, signed.signature));
    assert.ok(!verifyDecisionSignature(people.bob.publicKey, { ...fields, decision: 'deny' }, signed.signature));
  });

  it('lists, shows, decides and waits over HTTP', async (t) => {
    const { clientAs, open, people } = await server(t);
    const a = await open();
    const alice = clientAs('alice');
    const bob = clientAs('bob');
    assert.deepEqual((await listApprovals(alice)).map((v) => v.approval_id), [a.approval_id]);
    const shown = await getApproval(bob, a.approval_id);
    const waiting = waitForApproval(alice, a.approval_id, { pollMs: 20 });
    const key = await importSigningKey(privateKeyPem(people.bob.privateKey));
    const decision = await signApprovalDecision(key, { approval_id: shown.approval_id, action_digest: shown.action_digest, decision: 'approve', expires_at: new Date(Date.parse(shown.expires_at) - 1000) });
    const decided = await decideApproval(bob, a.approval_id, decision);
    assert.equal(decided.state, 'approved');
    assert.deepEqual([(await waiting).state, (await waiting).decided_by], ['approved', 'bob']);
    await assert.rejects(decideApproval(bob, a.approval_id, decision), (err: unknown) => (err as { code?: string }).code === 'approval_nonce_replayed' && (err as { status?: number }).status === 403);
    await assert.rejects(getApproval(clientAs('mallory'), a.approval_id), (err: unknown) => (err as { code?: string }).code === 'approval_not_found');
  });

  it('stops waiting when its signal aborts', async (t) => {
    const { clientAs, open } = await server(t);
    const a = await open();
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('gave up')), 50);
    await assert.rejects(waitForApproval(clientAs('alice'), a.approval_id, { pollMs: 10, signal: controller.signal }), /gave up/);
  });
});
