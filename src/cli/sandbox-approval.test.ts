/**
 * `airlock sandbox …` when policy sends the request to an approver: the CLI in a child process,
 * signing with a real key file, against the real app and admission path (default Cedar bundle,
 * real SQLite store) in this process, with the in-memory service behind it. A pending request
 * prints how to approve and exits 3; `--approval ID` repeats it once approved; `--wait` waits and
 * repeats it itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideApproval, getApproval, signApprovalDecision } from '../../sdk/approvals.ts';
import { startApprovalServer, type ApprovalServer } from '../../sdk/testing/approval-server.ts';
import { runCli, startCli, type StartedCli } from './test-cli.ts';

/** The agent's connection flags. */
const asAgent = (server: ApprovalServer) => ['--url', server.baseUrl, '--key', server.agent.keyFile];

/** The approval id a pending command printed. */
function approvalIdIn(stderr: string): string {
  const match = /^ {2}approval: +(apr_[A-Za-z0-9_-]+)$/m.exec(stderr);
  assert.ok(match?.[1] !== undefined, `no approval id in: ${stderr}`);
  return match[1];
}

/** The approver decides through the SDK. */
async function decide(server: ApprovalServer, id: string, decision: 'approve' | 'deny'): Promise<void> {
  const shown = await getApproval(server.approver.client, id);
  const signed = await signApprovalDecision(server.approver.signer, { approval_id: id, action_digest: shown.action_digest, decision, expires_at: new Date(Date.parse(shown.expires_at) - 1000) });
  await decideApproval(server.approver.client, id, signed);
}

/** Waits until the child has printed `pattern` on stderr (or ended). */
async function stderrShows(run: StartedCli, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 15_000;
  while (!pattern.test(run.stderrSoFar())) {
    if (run.child.exitCode !== null || Date.now() > deadline) assert.fail(`stderr never showed ${pattern}: ${run.stderrSoFar()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return run.stderrSoFar();
}

describe('airlock sandbox: requests that need an approval', () => {
  it('prints the approval and exits 3; --approval runs exactly the approved command once', async (t) => {
    const server = await startApprovalServer(t);
    const create = ['sandbox', 'create', ...asAgent(server), '--network', 'full', '--metadata', 'job=crawl'];
    const pending = await runCli(create);
    assert.equal(pending.code, 3, pending.stderr);
    assert.equal(pending.stdout, '');
    const id = approvalIdIn(pending.stderr);
    const approval = await getApproval(server.agent.client, id);
    assert.match(pending.stderr, /^approval required: full egress/m);
    assert.ok(pending.stderr.includes(`  digest:    ${approval.action_digest}\n`), pending.stderr);
    assert.ok(pending.stderr.includes(`  expires:   ${approval.expires_at}\n`), pending.stderr);
    assert.ok(pending.stderr.includes(`airlock approvals approve ${id} --key approver.key`), pending.stderr);
    assert.ok(pending.stderr.includes(`with --approval ${id}`), pending.stderr);
    assert.equal(server.service.list().length, 0);

    const early = await runCli([...create, '--approval', id]);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /\[approval_pending\]/);

    // The approver uses the CLI the message names.
    const approved = await runCli(['approvals', 'approve', id, '--url', server.baseUrl, '--key', server.approver.keyFile, '--yes']);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, new RegExp(`^approved ${id} \\(decided by bob\\)`));

    const changed = await runCli(['sandbox', 'create', ...asAgent(server), '--network', 'full', '--metadata', 'job=other', '--approval', id]);
    assert.equal(changed.code, 1);
    assert.match(changed.stderr, /\[approval_digest_mismatch\]/);
    assert.equal(server.service.list().length, 0);

    const created = await runCli([...create, '--approval', id]);
    assert.equal(created.code, 0, created.stderr);
    const [sandbox] = server.service.list();
    assert.equal(created.stdout, `${sandbox?.sandbox_id}\n`);
    assert.equal(sandbox?.network_policy, 'full');
    const again = await runCli([...create, '--approval', id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /\[approval_reused\]/);
    assert.equal(server.service.list().length, 1);
  });

  it('--json also prints the pending approval to stdout', async (t) => {
    const server = await startApprovalServer(t);
    const run = await runCli(['sandbox', 'create', ...asAgent(server), '--network', 'full', '--json']);
    assert.equal(run.code, 3, run.stderr);
    const body = JSON.parse(run.stdout) as { status: string; approval: { approval_id: string }; action_digest: string };
    assert.equal(body.status, 'approval_required');
    assert.equal(body.approval.approval_id, approvalIdIn(run.stderr));
    assert.match(body.action_digest, /^sha256:[0-9a-f]{64}$/);
  });

  it('--wait waits for the decision and runs the command on the approval', async (t) => {
    const server = await startApprovalServer(t);
    const run = startCli(['sandbox', 'create', ...asAgent(server), '--network', 'full', '--wait']);
    const id = approvalIdIn(await stderrShows(run, /waiting for the decision/));
    assert.equal(server.service.list().length, 0);
    await decide(server, id, 'approve');
    const done = await run.done;
    assert.equal(done.code, 0, done.stderr);
    const [sandbox] = server.service.list();
    assert.equal(done.stdout, `${sandbox?.sandbox_id}\n`);
    assert.equal(sandbox?.network_policy, 'full');
    assert.match(done.stderr, new RegExp(`approved: running it on approval ${id}`));
  });

  it('--wait on a denial exits 1 naming it, and runs nothing', async (t) => {
    const server = await startApprovalServer(t);
    const run = startCli(['sandbox', 'create', ...asAgent(server), '--network', 'full', '--wait']);
    const id = approvalIdIn(await stderrShows(run, /waiting for the decision/));
    await decide(server, id, 'deny');
    const done = await run.done;
    assert.equal(done.code, 1, done.stderr);
    assert.match(done.stderr, new RegExp(`approval ${id} was denied by bob.*\\[approval_denied\\]`));
    assert.equal(done.stdout, '');
    assert.equal(server.service.list().length, 0);
  });

  it('Ctrl-C while waiting stops the wait (exit 130) and leaves the approval pending', async (t) => {
    const server = await startApprovalServer(t);
    const run = startCli(['sandbox', 'create', ...asAgent(server), '--network', 'full', '--wait']);
    const id = approvalIdIn(await stderrShows(run, /waiting for the decision/));
    run.child.kill('SIGINT');
    const done = await run.done;
    assert.equal(done.code, 130, done.stderr);
    assert.match(done.stderr, new RegExp(`stopped waiting; approval ${id} is still pending: .*--approval ${id}`));
    assert.equal((await getApproval(server.agent.client, id)).state, 'pending');
    assert.equal(server.service.list().length, 0);
  });

  it('a request that needs no approval runs at once, --wait or not', async (t) => {
    const server = await startApprovalServer(t);
    const run = await runCli(['sandbox', 'create', ...asAgent(server), '--network', 'none', '--wait']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal(server.service.list().length, 1);
  });

  it('a malformed --approval is a usage error before anything is sent', async () => {
    for (const args of [
      ['sandbox', 'create', '--url', 'http://127.0.0.1:9', '--approval', 'apr_1;rm'],
      ['sandbox', 'exec', 's-1', '--url', 'http://127.0.0.1:9', '--approval', '', '--', 'ls'],
      ['sandbox', 'kill', 's-1', '--url', 'http://127.0.0.1:9', '--approval', 'x'.repeat(65)],
    ]) {
      const run = await runCli(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /--approval: .* is not an approval id/);
    }
  });
});
