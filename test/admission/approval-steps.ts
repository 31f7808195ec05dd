/** The steps of an approval round trip over HTTP, each a signed request: ask, decide, retry, look. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { signDecision } from '../../src/approvals/decision-signature.ts';
import type { Decision } from '../../src/approvals/digest.ts';
import { send, type KeyedPrincipal, type Send } from './fixture.ts';

/** A request the default policy sends to an approver: an agent's sandbox with full egress. */
export const FULL: Send = { method: 'POST', url: '/api/v1/sandboxes', payload: { network_policy: 'full', ttl_seconds: 600, metadata: { task: 'crawl' } } };

/** A decision body signed by `signer`'s key (the HTTP request carrying it is signed by whoever submits it). */
export function decisionBody(signer: KeyedPrincipal, approvalId: string, actionDigest: string, decision: Decision, overrides: { nonce?: string; expiresInSeconds?: number } = {}) {
  const fields = { action_digest: actionDigest, decision, nonce: overrides.nonce ?? randomBytes(16).toString('base64url'), expires_at: new Date(Date.now() + (overrides.expiresInSeconds ?? 300) * 1000).toISOString() };
  return { ...fields, key_id: signer.keyId, signature: signDecision(signer.privateKey, { approval_id: approvalId, ...fields }) };
}

/** Asks for `req` as `who`; asserts 202 and returns the approval id and digest. */
export async function pending(app: FastifyInstance, who: KeyedPrincipal, req: Send = FULL): Promise<{ id: string; digest: string }> {
  const res = await send(app, who, req);
  assert.equal(res.statusCode, 202, res.body);
  return { id: res.json().approval.approval_id, digest: res.json().action_digest };
}

/** Submits a decision `body` on `approvalId` in a request signed by `submitter`. */
export function decide(app: FastifyInstance, submitter: KeyedPrincipal, approvalId: string, body: unknown) {
  return send(app, submitter, { method: 'POST', url: `/api/v1/approvals/${approvalId}/decision`, payload: body });
}

/** Repeats `req` as `who`, naming the approval in `Airlock-Approval`. */
export function retry(app: FastifyInstance, who: KeyedPrincipal, approvalId: string, req: Send = FULL) {
  return send(app, who, { ...req, headers: { ...req.headers, 'airlock-approval': approvalId } });
}

/** The approval's state as `viewer` reads it. */
export async function stateOf(app: FastifyInstance, viewer: KeyedPrincipal, approvalId: string): Promise<string> {
  const res = await send(app, viewer, { method: 'GET', url: `/api/v1/approvals/${approvalId}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().state;
}
