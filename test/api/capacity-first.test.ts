/**
 * At the in-flight cap, a request that would take a slot (execute, create, exec) is refused with
 * 429 before its body is read or parsed: a refusal costs nothing, whatever the body holds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertError, makeApp } from './helpers.ts';

const EXECUTE = '/api/v1/sandbox/execute';

describe('the in-flight cap is decided before the body', () => {
  it('at the cap an unparseable or invalid body still gets 429 (not 400), and the service is not called', async () => {
    const { app, service } = await makeApp({ maxInflight: 1 });
    service.executeHangs = true;
    const pending = app.inject({ method: 'POST', url: EXECUTE, payload: { agent_id: 'a', command: ['sleep', '30'] } });
    while (service.executed.length === 0) await new Promise((r) => setTimeout(r, 5));
    try {
      const broken = await app.inject({ method: 'POST', url: EXECUTE, headers: { 'content-type': 'application/json' }, payload: '{"agent_id":' });
      assertError(broken, 429, 'capacity_exceeded');
      assert.equal(broken.headers['retry-after'], '1');
      assertError(await app.inject({ method: 'POST', url: EXECUTE, payload: { agent_id: 5 } }), 429, 'capacity_exceeded');
      assertError(await app.inject({ method: 'POST', url: '/api/v1/sandboxes', payload: { runtime: 'no-such' } }), 429, 'capacity_exceeded');
      assertError(await app.inject({ method: 'POST', url: '/api/v1/sandboxes/s-1/exec', payload: {} }), 429, 'capacity_exceeded');
      assert.equal(service.executed.length, 1, 'no refused request reached the service');
      assert.deepEqual(service.created, []);
      // Routes that take no slot are answered as usual.
      assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    } finally {
      const [entry] = service.status().active_sandboxes;
      if (entry !== undefined) await app.inject({ method: 'DELETE', url: `/api/v1/sandbox/executions/${entry.execution_id}` });
      await pending;
      await app.close();
    }
  });

  it('below the cap the body is checked as before (400, every problem listed)', async () => {
    const { app } = await makeApp({ maxInflight: 1 });
    try {
      assertError(await app.inject({ method: 'POST', url: EXECUTE, payload: { agent_id: 5 } }), 400);
    } finally {
      await app.close();
    }
  });
});
