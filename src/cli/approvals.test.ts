/**
 * `airlock approvals …` end to end: the real CLI in a child process against the real approval
 * routes and gate on a real store. The server's caller comes from the request's signature keyid
 * (authentication itself is tested with the verifier elsewhere).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import Fastify from 'fastify';
import '../api/caller-decoration.ts';
import { handleError } from '../api/errors.ts';
import { registerApprovalRoutes } from '../api/routes/approvals.ts';
import { actionDigest } from '../approvals/gate.ts';
import { approvalFixture, type TestPrincipal } from '../approvals/test-approvals.ts';
import { privateKeyPem } from '../signing/keys.ts';
import { parseDuration } from './approvals-actions.ts';
import { runCli } from './test-cli.ts';
import { UsageError } from './usage-error.ts';

const DIGEST = actionDigest({ action: 'create', network: 'full' });

async function server(t: TestContext) {
  const fixture = await approvalFixture(t);
  fixture.clock.ms = Date.now();
  const app = Fastify();
  app.setErrorHandler(handleError);
  app.addHook('onRequest', async (request) => {
    const keyId = /keyid="([^"]+)"/.exec(String(request.headers['signature-input'] ?? ''))?.[1];
    const person = Object.values(fixture.people).find((p) => p.keyId === keyId);
    request.caller = person?.caller;
  });
  registerApprovalRoutes(app, fixture.gate);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const dir = dirname(fixture.path);
  const keyFile = async (p: TestPrincipal) => {
    const path = join(dir, `${p.caller.name}.key`);
    await writeFile(path, privateKeyPem(p.privateKey), { mode: 0o600 });
    return path;
  };
  const approval = await fixture.gate.open({ requester: fixture.people.alice.caller, action: 'create', actionDigest: DIGEST, summary: { network: { mode: 'full' } }, policyIds: ['agent-configure-with-approval'], reasons: ['full egress needs approval'] });
  return { ...fixture, url, keyFile, approval };
}

describe('airlock approvals', () => {
  it('--expires-in takes 90s, 5m, 1h and refuses anything else', () => {
    assert.deepEqual(['90', '90s', '5m', '1h'].map(parseDuration), [90, 90, 300, 3600]);
    for (const bad of ['0', '5d', '-1m', '25h', 'soon', '']) assert.throws(() => parseDuration(bad), UsageError, bad);
  });

  it('lists and shows as the agent, approves as the approver', async (t) => {
    const { url, keyFile, approval, people, gate } = await server(t);
    const alice = await keyFile(people.alice);
    const ls = await runCli(['approvals', 'ls', '--url', url, '--key', alice]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, new RegExp(`${approval.approval_id}\\s+pending\\s+create\\s+alice`));
    const show = await runCli(['approvals', 'show', approval.approval_id, '--json', '--url', url, '--key', alice]);
    assert.equal(JSON.parse(show.stdout).action_digest, DIGEST);

    const approve = await runCli(['approvals', 'approve', approval.approval_id, '--yes', '--expires-in', '2m', '--url', url, '--key', await keyFile(people.bob)]);
    assert.equal(approve.code, 0, approve.stderr);
    assert.equal(approve.stdout, `approved ${approval.approval_id} (decided by bob)\n`);
    assert.match(approve.stderr, /request:\n\{\n {2}"network"/);
    const decided = await gate.get(approval.approval_id, people.alice.caller);
    assert.equal(decided.state, 'approved');
    const lifetime = Date.parse(decided.decision_expires_at ?? '') - Date.now();
    assert.ok(lifetime > 100_000 && lifetime <= 120_000, String(lifetime));
  });

  it('refuses without a key or a confirmation (exit 2), and an operator key (exit 1, the code named)', async (t) => {
    const { url, keyFile, approval, people, gate } = await server(t);
    const noKey = await runCli(['approvals', 'deny', approval.approval_id, '--yes', '--url', url]);
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /needs --key FILE or AIRLOCK_KEY/);
    const bob = await keyFile(people.bob);
    const unconfirmed = await runCli(['approvals', 'deny', approval.approval_id, '--url', url, '--key', bob]);
    assert.equal(unconfirmed.code, 2);
    assert.match(unconfirmed.stderr, /pass --yes/);
    const byOperator = await runCli(['approvals', 'approve', approval.approval_id, '--yes', '--url', url, '--key', await keyFile(people.olga)]);
    assert.equal(byOperator.code, 1);
    assert.match(byOperator.stderr, /approver_role_required/);
    assert.equal((await gate.get(approval.approval_id, people.bob.caller)).state, 'pending');
  });
});
