/**
 * A gated request (execute, create, exec) holds a request slot from its first hook to its response,
 * and gated requests go on one macrotask apart: a burst's admitted requests don't run their body,
 * admission and validation back to back ahead of the 429s and /health answers behind them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAccess } from '../../src/admission/access.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { assertError, json, makeApp } from './helpers.ts';

const EXECUTE = '/api/v1/sandbox/execute';

describe('request slots of gated routes', () => {
  it('a refused request frees its slot: the next one is not 429', async () => {
    const { app } = await makeApp({ maxInflight: 1 });
    try {
      assertError(await app.inject(json('POST', EXECUTE, { agent_id: 5 })), 400);
      assertError(await app.inject(json('POST', EXECUTE, { command: [] })), 400);
      assert.equal((await app.inject(json('POST', EXECUTE, { agent_id: 'a', command: ['true'] }))).statusCode, 200);
      assert.equal((await app.inject(json('POST', EXECUTE, { agent_id: 'a', command: ['true'] }))).statusCode, 200);
    } finally {
      await app.close();
    }
  });

  it('the 429s past the cap are answered before the admitted requests, paced a macrotask apart, reach the service', async () => {
    const { app, service } = await makeApp({ maxInflight: 3 });
    service.executeHangs = true;
    try {
      const body = { agent_id: 'a', command: ['sleep', '30'] };
      // `.then` dispatches an injected request (inject alone only prepares it).
      const admitted = Array.from({ length: 3 }, () => app.inject(json('POST', EXECUTE, body)).then((r) => r));
      const refused = await Promise.all(Array.from({ length: 3 }, () => app.inject(json('POST', EXECUTE, body))));
      for (const r of refused) assertError(r, 429, 'capacity_exceeded');
      assert.ok(service.executed.length < 3, `${service.executed.length} admitted requests ran ahead of the 429s`);
      while (service.executed.length < 3) await new Promise((r) => setTimeout(r, 5));
      for (const entry of service.status().active_sandboxes) await app.inject({ method: 'DELETE', url: `/api/v1/sandbox/executions/${entry.execution_id}` });
      for (const r of await Promise.all(admitted)) assert.notEqual(r.statusCode, 429);
    } finally {
      await app.close();
    }
  });

  it('an unauthenticated request takes no slot: a burst of them gets 401 each, never 429 from one another', async () => {
    const access = await createAccess({ config: { ...DEFAULT_CONFIG, auth: { ...DEFAULT_CONFIG.auth, unsignedLoopback: false } } });
    const { app, service } = await makeApp({ maxInflight: 1, access });
    try {
      const body = { agent_id: 'a', command: ['true'] };
      const answers = await Promise.all(Array.from({ length: 4 }, () => app.inject(json('POST', EXECUTE, body)).then((r) => r)));
      for (const r of answers) assertError(r, 401);
      assert.equal(service.executed.length, 0);
    } finally {
      await app.close();
    }
  });
});
