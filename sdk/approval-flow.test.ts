/**
 * The approval flow through the SDK against the real app and the real admission path (default
 * Cedar bundle, real SQLite store, real Ed25519 keys, signed requests over TCP), with the in-memory
 * service behind it: a 202 is ApprovalRequiredError on every kind of call, an approved retry runs,
 * a changed one is refused, and withApproval waits and retries.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkApprovalId } from './approval-required.ts';
import { decideApproval, getApproval, signApprovalDecision, type ApprovalInfo } from './approvals.ts';
import { AirlockClient } from './client.ts';
import { AirlockError, ApprovalDeniedError, ApprovalExpiredError, ApprovalRefusedError, ApprovalRequiredError, errorFromEnvelope } from './errors.ts';
import { Sandbox } from './sandbox.ts';
import type { ExecuteRequest } from './types.ts';
import { withApproval } from './with-approval.ts';
import { startApprovalServer, type ServerPrincipal } from './testing/approval-server.ts';

/** The approver signs and submits `decision` on approval `id`. */
async function decide(approver: ServerPrincipal, id: string, decision: 'approve' | 'deny'): Promise<ApprovalInfo> {
  const shown = await getApproval(approver.client, id);
  const signed = await signApprovalDecision(approver.signer, { approval_id: id, action_digest: shown.action_digest, decision, expires_at: new Date(Date.parse(shown.expires_at) - 1000) });
  return decideApproval(approver.client, id, signed);
}

/** The ApprovalRequiredError `call` rejects with. */
async function pendingOf(call: Promise<unknown>): Promise<ApprovalRequiredError> {
  const err = await call.then(
    (value) => assert.fail(`expected ApprovalRequiredError, got success: ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApprovalRequiredError, `expected ApprovalRequiredError, got ${String(err)}`);
  return err;
}

describe('SDK: requests that need an approval', () => {
  it('a full-network create is ApprovalRequiredError; approved, the same create runs once', async (t) => {
    const { agent, approver, service } = await startApprovalServer(t);
    const pending = await pendingOf(Sandbox.create({ client: agent.client, network_policy: 'full', metadata: { job: 'crawl' } }));
    assert.equal(pending.code, 'approval_required');
    assert.equal(pending.status, 202);
    assert.match(pending.approvalId, /^apr_/);
    assert.match(pending.actionDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(pending.approval.action_digest, pending.actionDigest);
    assert.equal(pending.approval.state, 'pending');
    assert.equal(pending.approval.requester.name, 'alice');
    assert.deepEqual(pending.approval.policy_ids, ['agent-configure-with-approval']);
    assert.ok(pending.expiresAt.getTime() > Date.now(), 'expires in the future');
    assert.equal(pending.expiresAt.toISOString(), pending.approval.expires_at);
    assert.equal(service.list().length, 0, 'nothing was created');

    // Before a decision the retry is refused (typed), and still nothing runs.
    await assert.rejects(Sandbox.create({ client: agent.client, network_policy: 'full', metadata: { job: 'crawl' }, approvalId: pending.approvalId }), (err: unknown) => err instanceof ApprovalRefusedError && err.code === 'approval_pending');
    assert.equal(service.list().length, 0);

    assert.equal((await decide(approver, pending.approvalId, 'approve')).state, 'approved');
    // A changed parameter is another request: refused, and the approval is not spent by it.
    await assert.rejects(
      Sandbox.create({ client: agent.client, network_policy: 'full', metadata: { job: 'other' }, approvalId: pending.approvalId }),
      (err: unknown) => err instanceof ApprovalRefusedError && err.code === 'approval_digest_mismatch' && err.status === 403,
    );
    const sandbox = await Sandbox.create({ client: agent.client, network_policy: 'full', metadata: { job: 'crawl' }, approvalId: pending.approvalId });
    const info = await sandbox.info();
    assert.equal(info.network_policy, 'full');
    assert.equal(info.owner, 'alice');
    assert.equal(service.list().length, 1);
    // Each approval admits one request.
    await assert.rejects(
      Sandbox.create({ client: agent.client, network_policy: 'full', metadata: { job: 'crawl' }, approvalId: pending.approvalId }),
      (err: unknown) => err instanceof ApprovalRefusedError && err.code === 'approval_reused',
    );
    assert.equal(service.list().length, 1);
    assert.equal((await getApproval(agent.client, pending.approvalId)).state, 'consumed');
  });

  it('the one-shot execute is ApprovalRequiredError too, never read as a result; approved, it runs', async (t) => {
    const { agent, approver } = await startApprovalServer(t);
    const request: ExecuteRequest = { agent_id: 'alice', command: ['echo', 'hi'], network_policy: 'full' };
    const pending = await pendingOf(agent.client.execute(request));
    assert.equal(pending.approval.action, 'execute');
    await decide(approver, pending.approvalId, 'approve');
    const result = await agent.client.execute(request, { approvalId: pending.approvalId });
    assert.equal(typeof result.success, 'boolean');
    assert.match(result.execution_id, /./);
  });

  it('a 202 on exec, files, allowlist and kill is ApprovalRequiredError, never success; approvalId is sent as Airlock-Approval', async () => {
    // A server whose policy sends every call to a human: the transport's reading of a 202 on each route.
    const approval: ApprovalInfo = {
      approval_id: 'apr_exec1', state: 'pending', action: 'exec', sandbox_id: 's-1', action_digest: `sha256:${'1'.repeat(64)}`,
      requester: { name: 'alice', agent_id: 'alice' }, summary: { command: ['ls'] }, policy_ids: ['p'], reasons: ['exec needs a look'],
      created_at: new Date().toISOString(), expires_at: new Date(Date.now() + 60_000).toISOString(), decided_by: null, decided_at: null, decision_expires_at: null,
    };
    const seen: Array<string | null> = [];
    const client = new AirlockClient({
      baseUrl: 'http://127.0.0.1:9',
      fetch: async (_url, init) => {
        seen.push(new Headers(init.headers).get('airlock-approval'));
        return new Response(JSON.stringify({ status: 'approval_required', approval, action_digest: approval.action_digest }), { status: 202, headers: { 'content-type': 'application/json' } });
      },
    });
    const sandbox = new Sandbox('s-1', client);
    const pending = await pendingOf(sandbox.commands.run(['ls']));
    assert.equal(pending.approvalId, 'apr_exec1');
    assert.equal(pending.approval.reasons[0], 'exec needs a look');
    await pendingOf(sandbox.files.write('/tmp/x', 'data', { approvalId: 'apr_exec1' }));
    await pendingOf(sandbox.setAllowlist(['example.com']));
    await pendingOf(sandbox.kill());
    await pendingOf(sandbox.files.read('/tmp/x'));
    assert.deepEqual(seen, [null, 'apr_exec1', null, null, null]);
    // A 202 of another shape is never taken as success either.
    const odd = new AirlockClient({ baseUrl: 'http://127.0.0.1:9', fetch: async () => new Response('{"sandbox_id":"s-2"}', { status: 202 }) });
    await assert.rejects(odd.createSandbox({}), (err: unknown) => err instanceof AirlockError && !(err instanceof ApprovalRequiredError) && err.code === 'invalid_response');
  });

  it("the server's approval refusals map to typed errors", () => {
    const of = (code: string, status: number) => errorFromEnvelope({ code, message: code }, status);
    assert.ok(of('approval_denied', 403) instanceof ApprovalDeniedError);
    assert.ok(of('approval_expired', 403) instanceof ApprovalExpiredError);
    for (const code of ['approval_digest_mismatch', 'approval_reused', 'approval_pending', 'approval_not_found', 'approval_unavailable', 'self_approval']) {
      const err = of(code, 403);
      assert.ok(err instanceof ApprovalRefusedError && !(err instanceof ApprovalDeniedError) && err.code === code, code);
    }
  });

  it('an approval id that could smuggle header text is refused before sending', () => {
    assert.throws(() => checkApprovalId('apr_1\r\nx-evil: 1'), (err: unknown) => err instanceof AirlockError && err.code === 'invalid_argument');
    assert.throws(() => checkApprovalId(''), /not an approval id/);
    assert.equal(checkApprovalId('apr_AZaz09-_'), 'apr_AZaz09-_');
  });

  it('withApproval: notifies, waits for the approver, retries with the approval', async (t) => {
    const { agent, approver, service } = await startApprovalServer(t);
    const calls: Array<string | undefined> = [];
    const notified: ApprovalRequiredError[] = [];
    const sandbox = await withApproval(
      agent.client,
      (approvalId) => {
        calls.push(approvalId);
        return Sandbox.create({ client: agent.client, network_policy: 'full', approvalId });
      },
      {
        pollMs: 20,
        onPending: (pending) => {
          notified.push(pending);
          // The human, elsewhere, decides a little later.
          setTimeout(() => void decide(approver, pending.approvalId, 'approve'), 50);
        },
      },
    );
    assert.equal(notified.length, 1);
    assert.deepEqual(calls, [undefined, notified[0]?.approvalId]);
    assert.equal((await sandbox.info()).network_policy, 'full');
    assert.equal(service.list().length, 1);
  });

  it('withApproval: a denial is ApprovalDeniedError and the call is not run again', async (t) => {
    const { agent, approver, service } = await startApprovalServer(t);
    let calls = 0;
    await assert.rejects(
      withApproval(
        agent.client,
        (approvalId) => {
          calls += 1;
          return Sandbox.create({ client: agent.client, network_policy: 'full', approvalId });
        },
        { pollMs: 20, onPending: (pending) => decide(approver, pending.approvalId, 'deny').then(() => undefined) },
      ),
      (err: unknown) => err instanceof ApprovalDeniedError && err.code === 'approval_denied' && err.approval?.decided_by === 'bob',
    );
    assert.equal(calls, 1);
    assert.equal(service.list().length, 0);
  });

  it('withApproval: a call that needs no approval runs once; other errors pass through; the wait can be aborted', async (t) => {
    const { agent } = await startApprovalServer(t);
    const ids: Array<string | undefined> = [];
    const sandbox = await withApproval(agent.client, (approvalId) => {
      ids.push(approvalId);
      return Sandbox.create({ client: agent.client, network_policy: 'none', approvalId });
    });
    assert.deepEqual(ids, [undefined]);
    assert.equal((await sandbox.info()).network_policy, 'none');
    await assert.rejects(withApproval(agent.client, () => Sandbox.connect('s-missing', { client: agent.client })), (err: unknown) => (err as AirlockError).code === 'sandbox_not_found');
    const controller = new AbortController();
    await assert.rejects(
      withApproval(agent.client, (approvalId) => Sandbox.create({ client: agent.client, network_policy: 'full', approvalId }), {
        pollMs: 10,
        signal: controller.signal,
        onPending: () => void setTimeout(() => controller.abort(new Error('nobody answered')), 30),
      }),
      /nobody answered/,
    );
  });

  it('withApproval: an approval nobody decides expires: ApprovalExpiredError, the call not run again', async (t) => {
    const { agent, service } = await startApprovalServer(t, { approvalTtlSeconds: 1 });
    let calls = 0;
    await assert.rejects(
      withApproval(
        agent.client,
        (approvalId) => {
          calls += 1;
          return Sandbox.create({ client: agent.client, network_policy: 'full', approvalId });
        },
        { pollMs: 100 },
      ),
      (err: unknown) => err instanceof ApprovalExpiredError && err instanceof ApprovalRefusedError && err.code === 'approval_expired' && err.approval?.state === 'expired',
    );
    assert.equal(calls, 1);
    assert.equal(service.list().length, 0);
  });
});
