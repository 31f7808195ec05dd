/**
 * A one-shot that names no command gets its image's default command before admission: the
 * approval an approver reads (and signs) names the command that will run, with the image's env
 * under the request's. The real app and admission path, the in-memory service behind them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApprovalRequiredError } from '../../sdk/errors.ts';
import { startApprovalServer } from '../../sdk/testing/approval-server.ts';

describe('one-shot image defaults before admission', () => {
  it('the pending approval names the image default command and environment', async (t) => {
    const { agent, service } = await startApprovalServer(t);
    service.imageRunConfig = async () => ({ entrypoint: ['/bin/tool'], cmd: ['--serve'], env: ['MODE=image', 'KEEP=1'], workdir: '/opt/app', user: 'root' });
    const err = await agent.client.execute({ agent_id: 'alice', network_policy: 'full', environment: { MODE: 'request' } }).then(
      (value) => assert.fail(`expected an approval, got ${JSON.stringify(value)}`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApprovalRequiredError, String(err));
    const summary = err.approval.summary as { parameters: { command?: string[]; env: Record<string, string>; workdir?: string; code?: string } };
    assert.deepEqual(summary.parameters.command, ['/bin/tool', '--serve']);
    assert.equal(summary.parameters.workdir, '/opt/app');
    assert.deepEqual(summary.parameters.env, { MODE: 'request', KEEP: '1' });
    assert.equal(service.executed.length, 0, 'nothing ran');
  });
});
