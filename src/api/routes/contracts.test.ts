import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createLoopbackAccess } from '../../admission/loopback-access.ts';
import { AuditLog } from '../../audit/log.ts';
import { SqliteStore } from '../../store/sqlite/sqlite-store.ts';
import { freshKey, tempStorePath } from '../../store/test-helpers.ts';
import { FakeService } from '../../../test/api/fake-service.ts';
import { buildApp } from '../app.ts';
import { ContractInfo, ContractList, ContractSuggestion } from '../schemas-contracts.ts';

const CONTRACT = { enforce: 'kill', hosts: ['api.openai.com'], services: ['inference'], runtimes: ['gvisor'], limits: { memory_mb: 512 } };

/** The app on a fake service and a real store and audit log; unsigned loopback requests act as `as`. */
async function server(t: TestContext, options: { as?: 'operator' | 'agent'; withStore?: boolean } = {}) {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  const service = new FakeService();
  const access = await createLoopbackAccess({ store, as: options.as === 'agent' ? { name: 'alice', role: 'agent' } : undefined });
  const log = new AuditLog({ store: store.audit });
  const app = buildApp({ service, access, contracts: options.withStore === false ? undefined : store.contracts, ...(options.withStore === false ? {} : { audit: { log, controllerKey: freshKey().privateKey } }) });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  return { app, store, log };
}

describe('contract routes', () => {
  it('set, show, list and remove, in the CLI\'s shape; each change is in the audit log', async (t) => {
    const { app, store, log } = await server(t);
    const set = await app.inject({ method: 'PUT', url: '/api/v1/contracts/alice', payload: CONTRACT });
    assert.equal(set.statusCode, 200, set.body);
    const info = ContractInfo.parse(set.json());
    assert.deepEqual([info.agent_id, info.contract.hosts, info.updated_by], ['alice', ['api.openai.com'], 'local-operator']);
    // Stored as the admission step reads it.
    assert.deepEqual((await store.contracts.get('alice'))?.contract, info.contract);
    const shown = ContractInfo.parse((await app.inject({ method: 'GET', url: '/api/v1/contracts/alice' })).json());
    assert.deepEqual(shown.contract, info.contract);
    const list = ContractList.parse((await app.inject({ method: 'GET', url: '/api/v1/contracts' })).json());
    assert.deepEqual(list.contracts.map((c) => c.agent_id), ['alice']);
    const removed = await app.inject({ method: 'DELETE', url: '/api/v1/contracts/alice' });
    assert.deepEqual([removed.statusCode, removed.json()], [200, { agent_id: 'alice', removed: true }]);
    for (const method of ['GET', 'DELETE'] as const) {
      const gone = await app.inject({ method, url: '/api/v1/contracts/alice' });
      assert.deepEqual([gone.statusCode, gone.json().error.code], [404, 'contract_not_found']);
    }
    const kinds = (await log.query({ agentId: 'alice', limit: 10 })).map((r) => r.record.kind);
    assert.deepEqual(kinds, ['contract.set', 'contract.removed']);
  });

  it('suggests a contract from the agent\'s recorded sandboxes; none recorded is 404', async (t) => {
    const { app, log } = await server(t);
    const actor = { name: 'controller', role: 'controller', agent_id: 'controller' };
    await log.append({ kind: 'sandbox.created', agentId: 'bob', actor, data: { runtime: 'gvisor', network_policy: 'restricted', limits: { memory_limit_mb: 256 } } });
    await log.append({ kind: 'egress', agentId: 'bob', actor, data: { host: 'api.openai.com', port: 443, allowed: true, kind: 'connect' } });
    const res = await app.inject({ method: 'GET', url: '/api/v1/contracts/bob/suggestion' });
    assert.equal(res.statusCode, 200, res.body);
    const suggestion = ContractSuggestion.parse(res.json());
    assert.deepEqual([suggestion.contract.runtimes, suggestion.contract.hosts, suggestion.evidence.sandboxes], [['gvisor'], ['api.openai.com'], 1]);
    const none = await app.inject({ method: 'GET', url: '/api/v1/contracts/carol/suggestion' });
    assert.deepEqual([none.statusCode, none.json().error.code], [404, 'contract_not_found']);
  });

  it('answers a bad contract or agent id with a clear 400 naming each problem, storing nothing', async (t) => {
    const { app, store } = await server(t);
    const cases: [string, unknown, RegExp][] = [
      ['/api/v1/contracts/alice', { hosts: ['*'] }, /hosts/],
      ['/api/v1/contracts/alice', { host: ['x.com'] }, /host/],
      ['/api/v1/contracts/alice', { limits: { memory_mb: -1 } }, /limits/],
      ['/api/v1/contracts/alice', { runtimes: ['docker'] }, /runtimes/],
      ['/api/v1/contracts/alice', [1], /body/],
      ['/api/v1/contracts/..%2Fx', CONTRACT, /agent_id/],
    ];
    for (const [url, payload, field] of cases) {
      const res = await app.inject({ method: 'PUT', url, payload: payload as object });
      assert.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload)}: ${res.body}`);
      assert.equal(res.json().error.code, 'invalid_request');
      assert.match(JSON.stringify(res.json().error), field);
    }
    const notJson = await app.inject({ method: 'PUT', url: '/api/v1/contracts/alice', headers: { 'content-type': 'application/json' }, payload: '{"hosts":' });
    assert.deepEqual([notJson.statusCode, notJson.json().error.code], [400, 'invalid_json']);
    assert.equal(await store.contracts.get('alice'), undefined);
  });

  it('is operators only (Cedar admin), and 503 on a controller without a store', async (t) => {
    const { app } = await server(t, { as: 'agent' });
    const requests = [
      { method: 'GET', url: '/api/v1/contracts' },
      { method: 'GET', url: '/api/v1/contracts/alice' },
      { method: 'PUT', url: '/api/v1/contracts/alice', payload: {} },
      { method: 'DELETE', url: '/api/v1/contracts/alice' },
      { method: 'GET', url: '/api/v1/contracts/alice/suggestion' },
    ] as const;
    for (const r of requests) {
      const res = await app.inject(r as never);
      assert.deepEqual([res.statusCode, res.json().error.code], [403, 'forbidden'], `${r.method} ${r.url}`);
    }
    const none = await server(t, { withStore: false });
    const res = await none.app.inject({ method: 'GET', url: '/api/v1/contracts' });
    assert.equal(res.statusCode, 503);
  });
});
