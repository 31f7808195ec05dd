/**
 * Bad input on the approval routes, and decisions that are not signed requests: each a clear 4xx
 * naming the problem, and the approval is left exactly as it was.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertError } from '../api/helpers.ts';
import { decide, decisionBody, pending, stateOf } from './approval-steps.ts';
import { castFixture, send } from './fixture.ts';

describe('bad input on the approval routes: a clear 4xx, and the approval is left as it was', () => {
  it('refuses malformed decision bodies and ids, naming the field', async (t) => {
    const f = await castFixture(t);
    const { id, digest } = await pending(f.app, f.people.alice);
    const good = decisionBody(f.people.petra, id, digest, 'approve');
    const bodies: Array<[unknown, RegExp]> = [
      [{}, /body\.decision/],
      [{ ...good, decision: 'maybe' }, /body\.decision/],
      [{ ...good, action_digest: 'sha256:XYZ' }, /body\.action_digest/],
      [{ ...good, nonce: 'short' }, /body\.nonce/],
      [{ ...good, expires_at: 'tomorrow' }, /body\.expires_at/],
      [{ ...good, key_id: 'k' }, /body\.key_id/],
      [{ ...good, signature: 'abc' }, /body\.signature/],
      [{ ...good, extra: true }, /extra/],
      [[good], /body/],
    ];
    for (const [body, field] of bodies) {
      const error = assertError(await decide(f.app, f.people.petra, id, body), 400, 'invalid_request');
      assert.match(`${error.message} ${JSON.stringify(error.details ?? [])}`, field);
    }
    const everything = assertError(await decide(f.app, f.people.petra, id, { ...good, nonce: 'x', key_id: 'y' }), 400, 'invalid_request');
    assert.equal(everything.details?.length, 2, 'every problem is listed');
    const notJson = await send(f.app, f.people.petra, { method: 'POST', url: `/api/v1/approvals/${id}/decision`, raw: '{"decision":', headers: { 'content-type': 'application/json' } });
    assertError(notJson, 400, 'invalid_json');
    const text = await send(f.app, f.people.petra, { method: 'POST', url: `/api/v1/approvals/${id}/decision`, raw: 'approve', headers: { 'content-type': 'text/plain' } });
    assertError(text, 415, 'unsupported_media_type');
    // A decision that outlives the approval, or is already past.
    assertError(await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve', { expiresInSeconds: 3600 })), 400, 'approval_decision_invalid');
    assertError(await decide(f.app, f.people.petra, id, decisionBody(f.people.petra, id, digest, 'approve', { expiresInSeconds: -5 })), 403, 'approval_expired');
    assertError(await decide(f.app, f.people.petra, 'bad.id', good), 400, 'invalid_request');
    assertError(await send(f.app, f.people.petra, { method: 'GET', url: '/api/v1/approvals/bad.id' }), 400, 'invalid_request');
    assertError(await decide(f.app, f.people.petra, 'apr_unknown', decisionBody(f.people.petra, 'apr_unknown', digest, 'approve')), 404, 'approval_not_found');
    assertError(await send(f.app, f.people.petra, { method: 'PUT', url: `/api/v1/approvals/${id}/decision`, payload: good }), 405, 'method_not_allowed');
    assert.equal(await stateOf(f.app, f.people.petra, id), 'pending');
    // The untouched decision still works: nothing above used its nonce.
    assert.equal((await decide(f.app, f.people.petra, id, good)).statusCode, 200);
  });

  it('an unsigned or badly signed decision is refused before the gate sees it', async (t) => {
    const f = await castFixture(t);
    const { id, digest } = await pending(f.app, f.people.alice);
    const body = decisionBody(f.people.petra, id, digest, 'approve');
    assertError(await send(f.app, undefined, { method: 'POST', url: `/api/v1/approvals/${id}/decision`, payload: body }), 401, 'authentication_required');
    assertError(await send(f.app, f.people.petra, { method: 'POST', url: `/api/v1/approvals/${id}/decision`, payload: body }, { tamper: (r) => (r.body = JSON.stringify({ ...body, decision: 'deny' })) }), 401, 'digest_mismatch');
    assert.equal(await stateOf(f.app, f.people.petra, id), 'pending');
  });
});
