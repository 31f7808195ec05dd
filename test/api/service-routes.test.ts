import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockMetrics } from '../../src/observability/metrics.ts';
import { createLoopbackAccess } from '../../src/admission/loopback-access.ts';
import { FAKE_POLICY_HASH } from './fake-service.ts';
import { assertError, json, makeApp } from './helpers.ts';

describe('health, status, metrics', () => {
  it('GET /health reports status, service, version, policy hash and runtimes', async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      status: 'healthy', service: 'airlock', version: '0.1.0', policy_hash: FAKE_POLICY_HASH, constitutional_hash: FAKE_POLICY_HASH,
      runtimes_available: ['namespace'], active_sandboxes: 0,
      // This app has no socket and no store, and accepts unsigned loopback requests (the test switch).
      authentication: { unix_socket: false, signed_requests: false, unsigned_loopback: true },
    });
  });

  it('GET /api/v1/sandbox/status lists active sandboxes in the seed shape', async () => {
    const { app } = await makeApp();
    await app.inject(json('POST', '/api/v1/sandboxes', {}));
    const body = (await app.inject({ method: 'GET', url: '/api/v1/sandbox/status' })).json();
    assert.equal(body.total_count, 1);
    assert.equal(body.constitutional_hash_verified, null);
    // The seed's fields, plus `kind` (a one-shot execution or a persistent sandbox).
    assert.deepEqual(Object.keys(body.active_sandboxes[0]).sort(), ['agent_id', 'execution_id', 'kind', 'pod_name', 'runtime', 'uptime_seconds']);
    assert.equal(body.active_sandboxes[0].kind, 'sandbox');
  });

  it('GET /metrics exports the seed metric names plus HTTP and pool metrics', async () => {
    const metrics = new AirlockMetrics();
    const { app } = await makeApp({ metrics });
    await app.inject(json('POST', '/api/v1/sandbox/execute', { agent_id: 'a', code: '1' }));
    await app.inject(json('POST', '/api/v1/sandboxes', {}));
    metrics.poolChanged('namespace/default', 2);
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    for (const name of [
      'hardened_sandbox_executions_total', 'hardened_sandbox_violations_total', 'hardened_sandbox_escape_attempts_total',
      'hardened_sandbox_cold_start_duration_seconds', 'active_hardened_sandboxes_count', 'airlock_http_requests_total',
      'airlock_http_request_duration_seconds', 'airlock_pool_ready_sandboxes', 'airlock_pool_checkouts_total', 'airlock_capacity_refusals_total',
    ]) assert.match(res.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
    assert.match(res.body, /^active_hardened_sandboxes_count 1$/m);
    assert.match(res.body, /airlock_http_requests_total\{method="POST",route="\/api\/v1\/sandbox\/execute",status="200"\} 1/);
  });

  it('GET /metrics is for operators unless configured public (its egress series name contacted hosts)', async () => {
    const asAgent = await makeApp({ access: await createLoopbackAccess({ as: { name: 'a1', role: 'agent' } }) });
    const refused = assertError(await asAgent.app.inject({ method: 'GET', url: '/metrics' }), 403, 'forbidden');
    assert.match(refused.message, /only operators administer the controller \(controller-operators-only\)/);
    const unsigned = await asAgent.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.7' });
    assertError(unsigned, 401, 'authentication_required');
    const open = await makeApp({ access: await createLoopbackAccess({ as: { name: 'a1', role: 'agent' } }), publicMetrics: true });
    assert.equal((await open.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.7' })).statusCode, 200);
    // /health and /openapi.json stay public: they say nothing about any tenant.
    for (const url of ['/health', '/openapi.json']) assert.equal((await asAgent.app.inject({ method: 'GET', url, remoteAddress: '192.0.2.7' })).statusCode, 200, url);
  });

  it('two apps in one process keep separate metrics', async () => {
    const a = await makeApp();
    const b = await makeApp();
    await a.app.inject({ method: 'GET', url: '/health' });
    const bodyB = (await b.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.doesNotMatch(bodyB, /route="\/health"/);
  });
});

describe('request ids', () => {
  it('every response carries x-request-id; a plain incoming id is kept, anything else replaced', async () => {
    const { app } = await makeApp();
    const kept = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'trace-12345678' } });
    assert.equal(kept.headers['x-request-id'], 'trace-12345678');
    const replaced = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id\twith "quotes"' } });
    assert.match(String(replaced.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const err = assertError(await app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'trace-abcdefgh' } }), 404, 'route_not_found');
    assert.equal(err.request_id, 'trace-abcdefgh');
  });
});

describe('shutdown', () => {
  it('app.close() with closeService ends the service; requests meanwhile get a 503 envelope', async () => {
    const { app, service } = await makeApp({ closeService: true });
    const shutdown = service.shutdown.bind(service);
    let release!: () => void;
    service.shutdown = async () => {
      await new Promise<void>((r) => (release = r));
      await shutdown();
    };
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const closed = app.close();
    await new Promise((r) => setTimeout(r, 10));
    const res = await fetch(`${address}/health`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('connection'), 'close');
    const body = (await res.json()) as { error: { code: string; request_id: string } };
    assert.equal(body.error.code, 'shutting_down');
    assert.equal(body.error.request_id, res.headers.get('x-request-id'));
    release();
    await closed;
    assert.equal(service.shutdownCalls, 1);
  });
});
