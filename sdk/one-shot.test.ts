/**
 * The SDK's one-shot calls against the HTTP app and the fake service: the `airlock run` options of
 * `execute`, `status()` listing a running one-shot, `cancelExecution()` and its typed errors, and
 * an aborted `execute` cancelling the run on the server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/api/app.ts';
import { FakeService } from '../test/api/fake-service.ts';
import { AirlockClient } from './client.ts';
import { ExecutionNotFoundError, ExecutionNotRunningError, InvalidRequestError } from './errors.ts';
import { createLoopbackAccess } from '../src/admission/loopback-access.ts';

async function listedExecution(client: AirlockClient): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const found = (await client.status()).active_sandboxes.find((s) => s.kind === 'execution');
    if (found !== undefined) return found.execution_id;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail('the execution was never listed');
}

describe('one-shot calls against the HTTP app and the fake service', () => {
  let app: FastifyInstance;
  let service: FakeService;
  let client: AirlockClient;

  before(async () => {
    service = new FakeService();
    app = buildApp({ service, access: await createLoopbackAccess() });
    client = new AirlockClient({ baseUrl: await app.listen({ host: '127.0.0.1', port: 0 }) });
  });
  after(async () => {
    // fetch opens a spare connection after an aborted request; it never sends one, so close would wait out its keep-alive.
    const closing = app?.close();
    app?.server.closeAllConnections();
    await closing;
  });

  it('execute sends the airlock run options; a string command is sh -c', async () => {
    const result = await client.execute({ agent_id: 'a', command: 'ls | wc -l', image: 'default', workdir: '/usr', pids_limit: 32, scratch_mb: 16 });
    assert.equal(result.success, true);
    const sent = service.executed.at(-1);
    assert.deepEqual(sent?.command, ['sh', '-c', 'ls | wc -l']);
    assert.deepEqual([sent?.image, sent?.workdir, sent?.limits], ['default', '/usr', { pids: 32, scratchMb: 16 }]);
    await assert.rejects(client.execute({ agent_id: 'a', command: 'ls', pids_limit: 1_000_000 }), InvalidRequestError);
  });

  it('a running one-shot is listed and cancelled by id; the caller gets the killed result; typed errors after', async () => {
    service.executeHangs = true;
    try {
      const pending = client.execute({ agent_id: 'a', command: 'sleep 30' });
      const id = await listedExecution(client);
      const cancelled = await client.cancelExecution(id);
      assert.deepEqual(cancelled, { execution_id: id, agent_id: 'a', runtime: 'namespace', termination_reason: 'killed' });
      const result = await pending;
      assert.equal(result.execution_id, id);
      assert.equal(result.termination_reason, 'killed');
      await assert.rejects(client.cancelExecution(id), ExecutionNotRunningError);
      await assert.rejects(client.cancelExecution('00000000-0000-4000-8000-000000000000'), ExecutionNotFoundError);
      await assert.rejects(client.cancelExecution('not-an-id'), InvalidRequestError);
    } finally {
      service.executeHangs = false;
    }
  });

  it('aborting execute cancels the run on the server', async () => {
    service.executeHangs = true;
    try {
      const controller = new AbortController();
      const pending = client.execute({ agent_id: 'a', command: 'sleep 30' }, { signal: controller.signal });
      pending.catch(() => undefined);
      const id = await listedExecution(client);
      controller.abort();
      await assert.rejects(pending);
      for (let i = 0; i < 300 && !service.cancelledExecutions.includes(id); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(service.cancelledExecutions.includes(id), 'the server cancelled the run');
    } finally {
      service.executeHangs = false;
    }
  });
});
