import assert from 'node:assert/strict';
import { connect, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { ROUTES, type RouteSpec } from '../../src/api/route-table.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { assertError, json, makeApp } from './helpers.ts';

const ID = 's-00000000-0000-0000-0000-000000000000';
const EXECUTION_ID = '00000000-0000-4000-8000-000000000000';
const routes = Object.values(ROUTES) as RouteSpec[];
// A route's second id (a command's exec id) is a well-formed one: the sandbox id is what is under test.
const concrete = (spec: RouteSpec, id = ID) => spec.url.replace(':id', id).replace(':exec_id', 'exec-1') + (spec.query?.shape['path'] !== undefined ? '?path=/tmp/a' : '');
const jsonRoutes = routes.filter((r) => r.body?.contentType === 'application/json');

describe('the error envelope on every route', () => {
  it('malformed JSON → 400 invalid_json', async () => {
    const { app } = await makeApp();
    for (const spec of jsonRoutes) {
      for (const payload of ['{', '{"a":', 'nul', '{"__proto__":{"x":1}}']) {
        assertError(await app.inject({ method: spec.method, url: concrete(spec), payload, headers: { 'content-type': 'application/json' } }), 400, 'invalid_json');
      }
    }
  });

  it('non-JSON content types → 415', async () => {
    const { app } = await makeApp();
    for (const spec of jsonRoutes) {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        assertError(await app.inject({ method: spec.method, url: concrete(spec), payload: 'a=1', headers: { 'content-type': type } }), 415, 'unsupported_media_type');
      }
    }
  });

  it('oversized JSON → 413', async () => {
    const { app } = await makeApp({ jsonBodyLimit: 1024 });
    for (const spec of jsonRoutes) {
      assertError(await app.inject(json(spec.method as 'POST', concrete(spec), { padding: 'x'.repeat(2048) })), 413, 'payload_too_large');
    }
  });

  it('unknown fields and wrong types → 400 naming the field', async () => {
    const { app } = await makeApp();
    for (const spec of jsonRoutes) {
      const unknown = assertError(await app.inject(json(spec.method as 'POST', concrete(spec), { no_such_field: 1 })), 400);
      assert.match(unknown.message, /no_such_field|required|ttl_seconds|agent_id|allowed_hosts/);
      assertError(await app.inject(json(spec.method as 'POST', concrete(spec), [1, 2])), 400, 'invalid_request');
      assertError(await app.inject(json(spec.method as 'POST', concrete(spec), 'a string')), 400, 'invalid_request');
    }
  });

  it('bad ids → 400 and unknown ids → 404 on every sandbox route', async () => {
    const { app } = await makeApp();
    // Approvals, audit records, revocations and contracts have their own ids and refusals (src/api/routes/approvals.test.ts,
    // test/audit/api.test.ts, src/api/routes/revocations.test.ts, src/api/routes/contracts.test.ts).
    const ownIds = new Set(['approvals', 'audit', 'revocations', 'contracts']);
    for (const spec of routes.filter((r) => r.params !== undefined && !ownIds.has(r.tag))) {
      const valid = spec === ROUTES.exec ? { command: ['x'] } : spec === ROUTES.setAllowlist ? { allowed_hosts: ['example.com'] } : { ttl_seconds: 5 };
      const body = spec.body?.contentType === 'application/json' ? { payload: JSON.stringify(valid), headers: { 'content-type': 'application/json' } } : {};
      const octet = spec.body?.contentType === 'application/octet-stream' ? { payload: 'x', headers: { 'content-type': 'application/octet-stream' } } : {};
      assertError(await app.inject({ method: spec.method, url: concrete(spec, 'bad!id'), ...body, ...octet }), 400, 'invalid_request');
      // Executions are one-shots, named by a UUID; everything else is a sandbox.
      const [missing, code] = spec === ROUTES.cancelExecution ? [EXECUTION_ID, 'execution_not_found'] : [ID, 'sandbox_not_found'];
      assertError(await app.inject({ method: spec.method, url: concrete(spec, missing), ...body, ...octet }), 404, code);
    }
  });

  it("Fastify's own 404 and unsupported methods use the envelope", async () => {
    const { app } = await makeApp();
    assertError(await app.inject({ method: 'GET', url: '/api/v2/anything' }), 404, 'route_not_found');
    assertError(await app.inject({ method: 'PATCH', url: '/api/v1/sandboxes' }), 405, 'method_not_allowed');
    assertError(await app.inject({ method: 'GET', url: '/api/v1/sandboxes/%zz' }), 400, 'invalid_request');
  });

  it('internal faults → 500 internal_error, logged with the stack, never echoed', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) });
    const { logger } = createLogger({ destination, level: 'info' });
    const { app, service } = await makeApp({ logger });
    service.health = async () => {
      throw new Error('secret internal detail');
    };
    const err = assertError(await app.inject({ method: 'GET', url: '/health' }), 500, 'internal_error');
    assert.doesNotMatch(err.message, /secret internal detail/);
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'request failed');
    assert.match(logged?.err?.stack ?? '', /secret internal detail/);
    assert.equal(logged?.reqId, err.request_id);
  });

  it('malformed HTTP is answered with the envelope, and the server keeps serving', async () => {
    const { app } = await makeApp();
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const reply = await new Promise<string>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => socket.write('GARBAGE / HTTP/9.9\r\n\r\n'));
        let data = '';
        socket.on('data', (c) => (data += c));
        socket.on('close', () => resolve(data));
      });
      assert.match(reply, /^HTTP\/1\.1 400/);
      assert.match(reply, /"code":"invalid_request"/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
    } finally {
      await app.close();
    }
  });
});
