import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SandboxInfo, SandboxNetworkInfo } from '../../src/api/schemas-sandboxes.ts';
import { ExecuteResponse } from '../../src/api/schemas.ts';
import { assertError, json, makeApp } from './helpers.ts';

const BASE = '/api/v1/sandboxes';
const MISSING = 's-00000000-0000-0000-0000-000000000000';

async function create(app: FastifyInstance, body: object): Promise<string> {
  const res = await app.inject(json('POST', BASE, body));
  assert.equal(res.statusCode, 201, res.body);
  return res.json().sandbox_id;
}

describe('network policy of persistent sandboxes', () => {
  it('create maps network_policy, allowed_hosts and services to the service; default none', async () => {
    const { app, service } = await makeApp();
    const plain = await app.inject(json('POST', BASE, {}));
    assert.equal(plain.statusCode, 201, plain.body);
    assert.deepEqual(service.created[0]?.network, { mode: 'none', allowedHosts: [], services: [] });
    const info = SandboxInfo.parse(plain.json());
    assert.equal(info.network_policy, 'none');
    assert.deepEqual(info.allowed_hosts, []);
    assert.deepEqual(info.security_violations, []);

    const restricted = await app.inject(json('POST', BASE, {
      network_policy: 'restricted', allowed_hosts: ['api.example.com', 'pypi.org:443', '*.example.org:8443', '192.0.2.7'], services: ['billing', 'search'],
    }));
    assert.equal(restricted.statusCode, 201, restricted.body);
    assert.deepEqual(service.created[1]?.network, {
      mode: 'restricted', allowedHosts: ['api.example.com', 'pypi.org:443', '*.example.org:8443', '192.0.2.7'], services: ['billing', 'search'],
    });
    assert.equal(restricted.json().network_policy, 'restricted');
    assert.deepEqual(restricted.json().allowed_hosts, ['api.example.com', 'pypi.org:443', '*.example.org:8443', '192.0.2.7']);

    assert.equal((await app.inject(json('POST', BASE, { network_policy: 'full' }))).statusCode, 201);
    assert.deepEqual(service.created[2]?.network, { mode: 'full', allowedHosts: [], services: [] });
  });

  it('GET /network describes the policy, allowlist, services and traffic', async () => {
    const { app } = await makeApp();
    const id = await create(app, { network_policy: 'restricted', allowed_hosts: ['api.example.com'], services: ['billing'] });
    const res = await app.inject({ method: 'GET', url: `${BASE}/${id}/network` });
    assert.equal(res.statusCode, 200, res.body);
    const net = SandboxNetworkInfo.parse(res.json());
    assert.deepEqual(net, {
      network_policy: 'restricted', allowed_hosts: ['api.example.com'], services: ['billing'],
      network_rx_bytes: 0, network_tx_bytes: 0, decisions: [], allowlist_changes: [],
    });
    const none = await create(app, {});
    const noneNet = (await app.inject({ method: 'GET', url: `${BASE}/${none}/network` })).json();
    assert.equal(noneNet.network_policy, 'none');
    assert.deepEqual(noneNet.allowed_hosts, []);
  });

  it('PUT /network replaces the allowlist of a restricted sandbox and records the change', async () => {
    const { app, service } = await makeApp();
    const id = await create(app, { network_policy: 'restricted', allowed_hosts: ['api.example.com'], services: ['billing'] });
    const res = await app.inject(json('PUT', `${BASE}/${id}/network`, { allowed_hosts: ['pypi.org', 'files.pythonhosted.org:443'] }));
    assert.equal(res.statusCode, 200, res.body);
    const net = SandboxNetworkInfo.parse(res.json());
    assert.deepEqual(net.allowed_hosts, ['pypi.org', 'files.pythonhosted.org:443']);
    assert.deepEqual(net.services, ['billing'], 'services are kept');
    assert.equal(net.allowlist_changes.length, 1);
    assert.deepEqual(net.allowlist_changes[0]?.allowed_hosts, ['pypi.org', 'files.pythonhosted.org:443']);
    assert.deepEqual(service.network(id).allowed_hosts, ['pypi.org', 'files.pythonhosted.org:443']);
    // GET /network and the sandbox itself show the new allowlist.
    assert.deepEqual((await app.inject({ method: 'GET', url: `${BASE}/${id}/network` })).json().allowed_hosts, ['pypi.org', 'files.pythonhosted.org:443']);
    assert.deepEqual((await app.inject({ method: 'GET', url: `${BASE}/${id}` })).json().allowed_hosts, ['pypi.org', 'files.pythonhosted.org:443']);
    // An empty allowlist is allowed: nothing is reachable any more.
    const emptied = await app.inject(json('PUT', `${BASE}/${id}/network`, { allowed_hosts: [] }));
    assert.equal(emptied.statusCode, 200, emptied.body);
    assert.deepEqual(emptied.json().allowed_hosts, []);
    assert.equal(emptied.json().allowlist_changes.length, 2);
  });

  it('PUT /network on a none or full sandbox → 400 from the service, nothing changed', async () => {
    const { app, service } = await makeApp();
    for (const policy of ['none', 'full']) {
      const id = await create(app, { network_policy: policy });
      const err = assertError(await app.inject(json('PUT', `${BASE}/${id}/network`, { allowed_hosts: ['example.com'] })), 400, 'invalid_request');
      assert.match(err.message, new RegExp(`network_policy ${policy}; only restricted sandboxes have an allowlist`));
      assert.deepEqual(service.network(id).allowed_hosts, []);
      assert.deepEqual(service.network(id).allowlist_changes, []);
    }
  });

  it('PUT /network with an allowlist the service refuses → 400 with the reason, allowlist unchanged', async () => {
    const { app, service } = await makeApp();
    const id = await create(app, { network_policy: 'restricted', allowed_hosts: ['api.example.com'] });
    const err = assertError(await app.inject(json('PUT', `${BASE}/${id}/network`, { allowed_hosts: ['ok.example.com', '*'] })), 400, 'invalid_request');
    assert.match(err.message, /\*: too broad/);
    assert.deepEqual(service.network(id).allowed_hosts, ['api.example.com']);
    assert.deepEqual(service.network(id).allowlist_changes, []);
  });

  it('PUT /network refuses bad bodies, naming the field (strict: extra fields are refused)', async () => {
    const { app, service } = await makeApp();
    const id = await create(app, { network_policy: 'restricted', allowed_hosts: ['api.example.com'] });
    const cases: Array<[unknown, RegExp]> = [
      [{ allowed_hosts: ['a.example.com'], network_policy: 'full' }, /body: unknown field "network_policy"/],
      [{ allowed_hosts: ['a.example.com'], extra: 1 }, /body: unknown field "extra"/],
      [{}, /body\.allowed_hosts/],
      [{ allowed_hosts: 'a.example.com' }, /body\.allowed_hosts/],
      [{ allowed_hosts: null }, /body\.allowed_hosts/],
      [{ allowed_hosts: [1] }, /body\.allowed_hosts\[0\]/],
      [{ allowed_hosts: ['ok.example.com', ''] }, /body\.allowed_hosts\[1\]/],
      [{ allowed_hosts: ['x'.repeat(301)] }, /body\.allowed_hosts\[0\]/],
      [{ allowed_hosts: Array.from({ length: 4097 }, (_, i) => `h${i}.example.com`) }, /body\.allowed_hosts/],
      [['a.example.com'], /body/],
    ];
    for (const [payload, pattern] of cases) {
      const err = assertError(await app.inject(json('PUT', `${BASE}/${id}/network`, payload)), 400, 'invalid_request');
      assert.match(err.message, pattern);
    }
    assertError(await app.inject({ method: 'PUT', url: `${BASE}/${id}/network` }), 400);
    assert.deepEqual(service.network(id).allowed_hosts, ['api.example.com']);
  });

  it('unknown ids → 404, malformed ids → 400, ended sandboxes: GET still answers, PUT → 409', async () => {
    const { app } = await makeApp();
    assertError(await app.inject({ method: 'GET', url: `${BASE}/${MISSING}/network` }), 404, 'sandbox_not_found');
    assertError(await app.inject(json('PUT', `${BASE}/${MISSING}/network`, { allowed_hosts: ['example.com'] })), 404, 'sandbox_not_found');
    for (const bad of ['-x', 'a.b', 'x'.repeat(129)]) {
      assertError(await app.inject({ method: 'GET', url: `${BASE}/${bad}/network` }), 400, 'invalid_request');
      assertError(await app.inject(json('PUT', `${BASE}/${bad}/network`, { allowed_hosts: [] })), 400, 'invalid_request');
    }
    const id = await create(app, { network_policy: 'restricted', allowed_hosts: ['api.example.com'] });
    assert.equal((await app.inject({ method: 'DELETE', url: `${BASE}/${id}` })).statusCode, 200);
    const after = await app.inject({ method: 'GET', url: `${BASE}/${id}/network` });
    assert.equal(after.statusCode, 200, after.body);
    assert.equal(after.json().network_policy, 'restricted');
    assertError(await app.inject(json('PUT', `${BASE}/${id}/network`, { allowed_hosts: ['example.com'] })), 409, 'sandbox_not_running');
  });

  it('network_drift is a valid end reason and termination reason on the wire', async () => {
    const { app, service } = await makeApp();
    const id = await create(app, { network_policy: 'full' });
    Object.assign(service.get(id), { state: 'ended', end_reason: 'network_drift', ended_at: new Date().toISOString() });
    const got = await app.inject({ method: 'GET', url: `${BASE}/${id}` });
    assert.equal(SandboxInfo.parse(got.json()).end_reason, 'network_drift');
    const original = service.startExecution.bind(service);
    service.startExecution = async (request) => {
      const run = await original(request);
      return { ...run, result: run.result.then((r) => ({ ...r, success: false, exit_code: null, termination_reason: 'network_drift' as const })) };
    };
    const res = await app.inject(json('POST', '/api/v1/sandbox/execute', { agent_id: 'a', code: '1', network_policy: 'full' }));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(ExecuteResponse.parse(res.json()).termination_reason, 'network_drift');
  });
});
