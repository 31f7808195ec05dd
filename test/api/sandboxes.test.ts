import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertError, json, makeApp } from './helpers.ts';

const BASE = '/api/v1/sandboxes';

describe('persistent sandboxes', () => {
  it('create → list → get → timeout → delete', async () => {
    const { app, service } = await makeApp();
    const created = await app.inject(json('POST', BASE, {
      runtime: 'namespace', image: 'default', limits: { memory_limit_mb: 256, pids_limit: 64, timeout_seconds: 30 }, ttl_seconds: 120,
      metadata: { owner: 'team-a' }, environment: { A: '1' }, agent_id: 'agent-1',
    }));
    assert.equal(created.statusCode, 201, created.body);
    const info = created.json();
    assert.match(info.sandbox_id, /^s-/);
    assert.deepEqual(service.created[0]?.limits, { memoryMb: 256, pids: 64, timeoutSeconds: 30 });
    assert.equal(service.created[0]?.ttlSeconds, 120);
    assert.deepEqual(service.created[0]?.metadata, { owner: 'team-a' });

    const list = (await app.inject({ method: 'GET', url: BASE })).json();
    assert.equal(list.total_count, 1);
    assert.equal(list.sandboxes[0].sandbox_id, info.sandbox_id);

    const got = await app.inject({ method: 'GET', url: `${BASE}/${info.sandbox_id}` });
    assert.equal(got.json().sandbox_id, info.sandbox_id);

    const extended = await app.inject(json('POST', `${BASE}/${info.sandbox_id}/timeout`, { ttl_seconds: 3600 }));
    assert.equal(extended.statusCode, 200, extended.body);
    assert.ok(Date.parse(extended.json().expires_at) > Date.now() + 3000 * 1000);

    const deleted = await app.inject({ method: 'DELETE', url: `${BASE}/${info.sandbox_id}` });
    assert.equal(deleted.statusCode, 200);
    assert.equal(deleted.json().state, 'ended');
    assertError(await app.inject(json('POST', `${BASE}/${info.sandbox_id}/timeout`, { ttl_seconds: 10 })), 409, 'sandbox_not_running');
  });

  it('an empty create body is fine: every field has a default', async () => {
    const { app } = await makeApp();
    assert.equal((await app.inject(json('POST', BASE, {}))).statusCode, 201);
  });

  it('unknown sandbox ids are 404, malformed ones 400', async () => {
    const { app } = await makeApp();
    const missing = 's-00000000-0000-0000-0000-000000000000';
    for (const req of [
      { method: 'GET' as const, url: `${BASE}/${missing}` },
      { method: 'DELETE' as const, url: `${BASE}/${missing}` },
      json('POST', `${BASE}/${missing}/timeout`, { ttl_seconds: 5 }),
    ]) assertError(await app.inject(req), 404, 'sandbox_not_found');
    for (const bad of ['-x', 'a.b', 'a%20b', 'x'.repeat(129)]) {
      assertError(await app.inject({ method: 'GET', url: `${BASE}/${bad}` }), 400, 'invalid_request');
      assertError(await app.inject({ method: 'DELETE', url: `${BASE}/${bad}` }), 400, 'invalid_request');
    }
  });

  it('refuses bad create bodies, naming the field', async () => {
    const { app, service } = await makeApp();
    const cases: Array<[unknown, RegExp, string?]> = [
      [{ limits: { memory_limit_mb: 99999 } }, /limits\.memory_limit_mb/],
      [{ limits: { pids_limit: 1e9 } }, /limits\.pids_limit/],
      [{ limits: { bogus: 1 } }, /limits: unknown field "bogus"/],
      [{ ttl_seconds: 0 }, /ttl_seconds/],
      [{ ttl_seconds: 10 ** 7 }, /ttl_seconds/],
      [{ ttl_seconds: '60' }, /ttl_seconds/],
      [{ image: '../etc' }, /image/],
      [{ runtime: 'kata' }, /kata/],
      [{ metadata: { k: 5 } }, /metadata\.k/],
      [{ network_policy: 'open' }, /body\.network_policy/],
      [{ network_policy: 'restricted', allowed_hosts: 'example.com' }, /body\.allowed_hosts/],
      [{ network_policy: 'restricted', allowed_hosts: [null] }, /body\.allowed_hosts\[0\]/],
      [{ network_policy: 'restricted', services: ['Bad_Name'] }, /body\.services\[0\]: a configured service name/],
      [{ network_policy: 'restricted', allowed_hosts: ['*.com'] }, /\*\.com: too broad/],
      [{ network_policy: 'none', services: ['billing'] }, /services: only reachable with network_policy restricted/],
      [{ filesystem_access: ['proc/1'] }, /filesystem_access\[0\]: path must be absolute/, 'invalid_path'],
      [{ mystery: 1 }, /unknown field "mystery"/],
    ];
    for (const [payload, pattern, code] of cases) {
      const err = assertError(await app.inject(json('POST', BASE, payload)), 400, code ?? 'invalid_request');
      assert.match(err.message, pattern);
    }
    // A host path that may not be granted: 403, the code a driver's refusal of it gets.
    const denied = assertError(await app.inject(json('POST', BASE, { filesystem_access: ['/proc/1'] })), 403, 'filesystem_access_refused');
    assert.match(denied.message, /^filesystem_access: body\.filesystem_access\[0\]: host paths under \/proc may not be granted/);
    assert.equal(service.created.length, 0);
  });

  it('timeout refuses bad bodies', async () => {
    const { app } = await makeApp();
    const id = (await app.inject(json('POST', BASE, {}))).json().sandbox_id;
    for (const payload of [{}, { ttl_seconds: -5 }, { ttl_seconds: 1.5 }, { ttl_seconds: 5, extra: 1 }]) {
      assertError(await app.inject(json('POST', `${BASE}/${id}/timeout`, payload)), 400, 'invalid_request');
    }
    assertError(await app.inject({ method: 'POST', url: `${BASE}/${id}/timeout` }), 400, 'invalid_request');
  });

  it('capacity → 429 with Retry-After; policy pin mismatch → 409', async () => {
    const { app, service } = await makeApp();
    service.capacity = 0;
    const res = await app.inject(json('POST', BASE, {}));
    assertError(res, 429, 'capacity_exceeded');
    assert.equal(res.headers['retry-after'], '2');
    service.capacity = 10;
    assertError(await app.inject(json('POST', BASE, {}, { 'x-airlock-policy-hash': `sha256:${'0'.repeat(64)}` })), 409, 'policy_mismatch');
  });
});
