/**
 * One-shot executions have their id from admission on: in the `X-Airlock-Execution-Id` header, in
 * `GET /api/v1/sandbox/status` while they run, and for `DELETE /api/v1/sandbox/executions/{id}`,
 * which ends them `killed` (the original caller still gets the result). A client that disconnects
 * cancels its one-shot. HTTP shape only (fake service); the real sandboxes are in
 * test/integration/one-shot-cancel.test.ts.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { assertError, json, makeApp } from './helpers.ts';

const URL = '/api/v1/sandbox/execute';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface StatusEntry {
  execution_id: string;
  agent_id: string;
  kind: string;
  pod_name: string;
}

async function running(app: FastifyInstance): Promise<StatusEntry[]> {
  const body = (await app.inject({ method: 'GET', url: '/api/v1/sandbox/status' })).json() as { active_sandboxes: StatusEntry[] };
  return body.active_sandboxes.filter((s) => s.kind === 'execution');
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
async function until<T>(check: () => Promise<T | undefined> | T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('one-shot execution ids and cancellation', () => {
  it('the response carries the execution id in X-Airlock-Execution-Id, the same as the result', async () => {
    const { app } = await makeApp();
    const res = await app.inject(json('POST', URL, { agent_id: 'a', command: 'true' }));
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['x-airlock-execution-id']), UUID);
    assert.equal(res.headers['x-airlock-execution-id'], res.json().execution_id);
    // Refused before admission: there is no execution, so no id.
    const refused = await app.inject(json('POST', URL, { agent_id: 'a', command: 'true', runtime: 'gvisor' }));
    assertError(refused, 400, 'runtime_unavailable');
    assert.equal(refused.headers['x-airlock-execution-id'], undefined);
  });

  it('a running one-shot is listed by status under its id and cancelled by DELETE; its caller gets the result, killed', async () => {
    const { app, service } = await makeApp();
    service.executeHangs = true;
    const pending = app.inject(json('POST', URL, { agent_id: 'agent-7', command: ['sleep', '30'] }));
    const [entry] = await until(async () => {
      const list = await running(app);
      return list.length > 0 ? list : undefined;
    });
    assert.ok(entry !== undefined);
    assert.match(entry.execution_id, UUID);
    assert.equal(entry.agent_id, 'agent-7');
    assert.equal(entry.pod_name, `x-${entry.execution_id}`);

    const cancelled = await app.inject({ method: 'DELETE', url: `/api/v1/sandbox/executions/${entry.execution_id}` });
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    assert.deepEqual(cancelled.json(), { execution_id: entry.execution_id, agent_id: 'agent-7', runtime: 'namespace', termination_reason: 'killed' });

    const res = await pending;
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['x-airlock-execution-id'], entry.execution_id);
    assert.equal(res.json().execution_id, entry.execution_id);
    assert.equal(res.json().termination_reason, 'killed');
    assert.equal(res.json().success, false);
    assert.deepEqual(await running(app), []);
    assert.deepEqual(service.cancelledExecutions, [entry.execution_id]);
  });

  it('DELETE of an ended execution → 409 execution_not_running; of an unknown one → 404; of a malformed id → 400', async () => {
    const { app } = await makeApp();
    const done = await app.inject(json('POST', URL, { agent_id: 'a', command: 'true' }));
    const id = String(done.headers['x-airlock-execution-id']);
    const late = assertError(await app.inject({ method: 'DELETE', url: `/api/v1/sandbox/executions/${id}` }), 409, 'execution_not_running');
    assert.match(late.message, /already ended \(completed\)/);
    assertError(await app.inject({ method: 'DELETE', url: '/api/v1/sandbox/executions/00000000-0000-4000-8000-000000000000' }), 404, 'execution_not_found');
    for (const bad of ['x', 's-123', `${id}x`, id.toUpperCase()]) {
      assertError(await app.inject({ method: 'DELETE', url: `/api/v1/sandbox/executions/${bad}` }), 400, 'invalid_request');
    }
    const wrongMethod = assertError(await app.inject({ method: 'GET', url: `/api/v1/sandbox/executions/${id}` }), 405, 'method_not_allowed');
    assert.match(wrongMethod.message, /allowed: DELETE/);
  });

  it('a second DELETE racing the first gets the same ending; the slot and the listing are freed', async () => {
    const { app, service } = await makeApp({ maxInflight: 1 });
    service.executeHangs = true;
    const pending = app.inject(json('POST', URL, { agent_id: 'a', command: 'sleep 30' }));
    const [entry] = await until(async () => {
      const list = await running(app);
      return list.length > 0 ? list : undefined;
    });
    assert.ok(entry !== undefined);
    // The only in-flight slot is held by the running one-shot.
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', command: 'true' })), 429, 'capacity_exceeded');
    const url = `/api/v1/sandbox/executions/${entry.execution_id}`;
    const [first, second] = await Promise.all([app.inject({ method: 'DELETE', url }), app.inject({ method: 'DELETE', url })]);
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(second.statusCode, 200, second.body);
    assert.equal(second.json().termination_reason, 'killed');
    assert.equal((await pending).json().termination_reason, 'killed');
    service.executeHangs = false;
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', command: 'true' }))).statusCode, 200, 'the slot was released');
  });

  it('a client that disconnects cancels its one-shot, and nothing of it stays listed', async () => {
    const { app, service } = await makeApp();
    service.executeHangs = true;
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const body = JSON.stringify({ agent_id: 'leaver', command: ['sleep', '30'] });
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: URL, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      req.on('error', () => undefined);
      req.end(body);
      const [entry] = await until(async () => {
        const list = await running(app);
        return list.length > 0 ? list : undefined;
      });
      assert.ok(entry !== undefined);
      assert.equal(entry.agent_id, 'leaver');
      req.destroy();
      await until(() => (service.cancelledExecutions.includes(entry.execution_id) ? true : undefined));
      await until(async () => ((await running(app)).length === 0 ? true : undefined));
      assertError(await app.inject({ method: 'DELETE', url: `/api/v1/sandbox/executions/${entry.execution_id}` }), 409, 'execution_not_running');
    } finally {
      await app.close();
    }
  });

  it('a client that disconnects while its one-shot is being admitted cancels it as soon as it has an id', async () => {
    const { app, service } = await makeApp();
    service.executeHangs = true;
    service.admitDelayMs = 300;
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const body = JSON.stringify({ agent_id: 'early-leaver', command: ['sleep', '30'] });
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: URL, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      req.on('error', () => undefined);
      req.end(body);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(service.executed.length, 0, 'still being admitted');
      req.destroy();
      await until(() => (service.cancelledExecutions.length === 1 ? true : undefined));
      await until(async () => ((await running(app)).length === 0 ? true : undefined));
    } finally {
      await app.close();
    }
  });

  it('shutting the service down cancels running one-shots; their callers get the result', async () => {
    const { app, service } = await makeApp();
    service.executeHangs = true;
    const pending = app.inject(json('POST', URL, { agent_id: 'a', command: 'sleep 30' }));
    await until(async () => ((await running(app)).length > 0 ? true : undefined));
    await service.shutdown();
    assert.equal((await pending).json().termination_reason, 'killed');
  });
});
