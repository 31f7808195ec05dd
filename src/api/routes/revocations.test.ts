import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { createLoopbackAccess } from '../../admission/loopback-access.ts';
import { SqliteStore } from '../../store/sqlite/sqlite-store.ts';
import { freshKey, tempStorePath } from '../../store/test-helpers.ts';
import { Revoker } from '../../revocation/revoker.ts';
import { FakeService } from '../../../test/api/fake-service.ts';
import { buildApp } from '../app.ts';
import { RevocationList, RevokeResponse, SignedRevocationList } from '../schemas-revocations.ts';

/** The app on a fake service and a real store; unsigned loopback requests act as `as`. */
async function server(t: TestContext, options: { as?: 'operator' | 'agent'; trusted?: ReturnType<typeof freshKey>[]; withRevoker?: boolean } = {}) {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  const service = new FakeService();
  const key = freshKey();
  const access = await createLoopbackAccess({ store, as: options.as === 'agent' ? { name: 'alice', role: 'agent' } : undefined });
  const revoker = new Revoker({ store: store.revocations, endAgent: (id) => service.endAgent(id), controllerKey: key.privateKey, trustedKeys: (options.trusted ?? []).map((k) => k.publicKey) });
  const app = buildApp({ service, access, revoker: options.withRevoker === false ? undefined : revoker });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  return { app, service, key, store };
}

describe('revocation routes', () => {
  it('revoke ends the agent’s sandboxes, lists, exports a list that validates, unrevokes', async (t) => {
    const { app, service } = await server(t);
    const s = await service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'alice' });
    const res = await app.inject({ method: 'POST', url: '/api/v1/revocations', payload: { agent_id: 'alice', reason: 'leaked key' } });
    assert.equal(res.statusCode, 201, res.body);
    const body = RevokeResponse.parse(res.json());
    assert.deepEqual([body.created, body.sandboxes_ended, service.get(s.sandbox_id).end_reason], [true, [s.sandbox_id], 'revoked']);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/revocations', payload: { agent_id: 'alice', reason: 'again' } })).statusCode, 200);
    const list = RevocationList.parse((await app.inject({ method: 'GET', url: '/api/v1/revocations' })).json());
    assert.deepEqual(list.revocations.map((r) => [r.agent_id, r.reason, r.source]), [['alice', 'leaked key', 'local']]);
    const exported = SignedRevocationList.parse((await app.inject({ method: 'GET', url: '/api/v1/revocation-list' })).json());
    assert.deepEqual(exported.list.revocations.map((r) => r.agent_id), ['alice']);
    assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/revocations/alice' })).statusCode, 200);
    const again = await app.inject({ method: 'DELETE', url: '/api/v1/revocations/alice' });
    assert.deepEqual([again.statusCode, again.json().error.code], [404, 'agent_not_revoked']);
  });

  it('answers bad input with a clear 400, naming the field', async (t) => {
    const { app } = await server(t);
    const cases: [string, string, unknown, string][] = [
      ['POST', '/api/v1/revocations', { agent_id: 'alice' }, 'reason'],
      ['POST', '/api/v1/revocations', { agent_id: 'alice', reason: '   ' }, 'reason'],
      ['POST', '/api/v1/revocations', { agent_id: '../x', reason: 'r' }, 'agent_id'],
      ['POST', '/api/v1/revocations', { agent_id: 'a'.repeat(129), reason: 'r' }, 'agent_id'],
      ['POST', '/api/v1/revocations', { agent_id: 'alice', reason: 'r', extra: 1 }, 'extra'],
      ['POST', '/api/v1/revocations', { agent_id: 'alice', reason: 'x'.repeat(1025) }, 'reason'],
      ['DELETE', '/api/v1/revocations/%20bad', undefined, 'agent_id'],
    ];
    for (const [method, url, payload, field] of cases) {
      const res = await app.inject({ method: method as 'POST', url, ...(payload === undefined ? {} : { payload: payload as object }) });
      assert.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(payload)}: ${res.body}`);
      assert.equal(res.json().error.code, 'invalid_request');
      assert.match(res.json().error.message, new RegExp(field));
    }
    const notJson = await app.inject({ method: 'POST', url: '/api/v1/revocations', headers: { 'content-type': 'application/json' }, payload: '{"agent_id":' });
    assert.deepEqual([notJson.statusCode, notJson.json().error.code], [400, 'invalid_json']);
    for (const body of [{}, { list: {}, signature: 'x' }, [1, 2]]) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/revocation-list', payload: body as object });
      assert.deepEqual([res.statusCode, res.json().error.code], [400, 'invalid_request'], res.body);
    }
  });

  it('imports a trusted list once; a tampered copy is 403, a replay 409, an untrusted issuer 403', async (t) => {
    const issuer = await server(t);
    await issuer.app.inject({ method: 'POST', url: '/api/v1/revocations', payload: { agent_id: 'mallory', reason: 'abuse' } });
    const list = (await issuer.app.inject({ method: 'GET', url: '/api/v1/revocation-list' })).json();
    const importer = await server(t, { trusted: [issuer.key] });
    const s = await importer.service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'mallory' });

    const tampered = structuredClone(list);
    tampered.list.revocations[0].agent_id = 'root';
    const forged = await importer.app.inject({ method: 'POST', url: '/api/v1/revocation-list', payload: tampered });
    assert.deepEqual([forged.statusCode, forged.json().error.code], [403, 'bad_signature']);
    const ok = await importer.app.inject({ method: 'POST', url: '/api/v1/revocation-list', payload: list });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.deepEqual(ok.json().added, ['mallory']);
    assert.equal(importer.service.get(s.sandbox_id).end_reason, 'revoked');
    const replay = await importer.app.inject({ method: 'POST', url: '/api/v1/revocation-list', payload: list });
    assert.deepEqual([replay.statusCode, replay.json().error.code], [409, 'stale_list']);
    const stranger = await server(t);
    const untrusted = await stranger.app.inject({ method: 'POST', url: '/api/v1/revocation-list', payload: list });
    assert.deepEqual([untrusted.statusCode, untrusted.json().error.code], [403, 'untrusted_issuer']);
  });

  it('is operators only (Cedar admin), and 503 on a controller without a revocation list', async (t) => {
    const { app } = await server(t, { as: 'agent' });
    const requests = [
      { method: 'POST', url: '/api/v1/revocations', payload: { agent_id: 'bob', reason: 'r' } },
      { method: 'DELETE', url: '/api/v1/revocations/bob' },
      { method: 'GET', url: '/api/v1/revocations' },
      { method: 'GET', url: '/api/v1/revocation-list' },
      { method: 'POST', url: '/api/v1/revocation-list', payload: { list: { format: 'airlock-revocation-list/1', issuer: 'k', sequence: 1, issued_at: new Date().toISOString(), revocations: [] }, signature: 'AAAA' } },
    ] as const;
    for (const r of requests) {
      const res = await app.inject(r as never);
      assert.deepEqual([res.statusCode, res.json().error.code], [403, 'forbidden'], `${r.method} ${r.url}`);
    }
    const none = await server(t, { withRevoker: false });
    const res = await none.app.inject({ method: 'GET', url: '/api/v1/revocations' });
    assert.equal(res.statusCode, 503);
  });
});
