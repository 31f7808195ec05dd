/**
 * Secrets on the HTTP API, through the real admission path and the shipped policies: a request
 * names secrets (`secrets: [...]` on execute and create); Cedar decides each one (`secret.use`);
 * a denial is a 403 naming the secret; malformed names are a 400 naming the field; what reaches
 * the service and an approval is names only.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertError } from '../api/helpers.ts';
import { generateEd25519KeyPair, keyId, publicKeyPem } from '../../src/signing/keys.ts';
import { castFixture, type KeyedPrincipal } from './fixture.ts';

/** Both routes that create a sandbox; `body(who)` is a valid request of `who` without secrets. */
const ROUTES = [
  { what: 'execute', url: '/api/v1/sandbox/execute', body: (who: KeyedPrincipal) => ({ agent_id: who.agentId, command: ['true'] }) },
  { what: 'create', url: '/api/v1/sandboxes', body: (_who: KeyedPrincipal) => ({}) },
] as const;

/** An agent in the group the default policy gives `openai_key` to. */
async function carol(f: Awaited<ReturnType<typeof castFixture>>): Promise<KeyedPrincipal> {
  const pair = generateEd25519KeyPair();
  await f.store.addPrincipal({ name: 'carol', role: 'agent', groups: ['secret.openai_key'], publicKeyPem: publicKeyPem(pair.publicKey) });
  return { name: 'carol', role: 'agent', agentId: 'carol', keyId: keyId(pair.publicKey), ...pair };
}

describe('secrets on the API', () => {
  it('an agent in secret.<name> gets that secret; the service is handed names, never values', async (t) => {
    const f = await castFixture(t);
    const who = await carol(f);
    for (const route of ROUTES) {
      const res = await f.send(who, { method: 'POST', url: route.url, payload: { ...route.body(who), secrets: ['openai_key'] } });
      assert.ok(res.statusCode === 200 || res.statusCode === 201, `${route.what}: ${res.body}`);
    }
    assert.deepEqual(f.service.executed.at(-1)?.secrets, ['openai_key']);
    assert.deepEqual(f.service.created.at(-1)?.secrets, ['openai_key']);
  });

  it('a secret policy does not give is refused with 403, naming the secret (and the policy, when one forbids)', async (t) => {
    const f = await castFixture(t);
    const who = await carol(f);
    for (const route of ROUTES) {
      const other = await f.send(who, { method: 'POST', url: route.url, payload: { ...route.body(who), secrets: ['openai_key', 'db_password'] } });
      const error = assertError(other, 403, 'forbidden');
      assert.match(error.message, /^denied by policy: secret db_password: no policy permits this request \(default deny\)$/, route.what);
      // An agent outside the group gets nothing, and an approver (who runs nothing) neither.
      assertError(await f.send(f.people.alice, { method: 'POST', url: route.url, payload: { ...route.body(f.people.alice), secrets: ['openai_key'] } }), 403, 'forbidden');
      assertError(await f.send(f.people.petra, { method: 'POST', url: route.url, payload: { ...route.body(f.people.petra), secrets: ['openai_key'] } }), 403, 'forbidden');
    }
    assert.equal(f.service.executed.length + f.service.created.length, 0, 'nothing reached the service');
    // An operator is given any secret (operator-all).
    const ok = await f.send(f.people.olga, { method: 'POST', url: '/api/v1/sandbox/execute', payload: { agent_id: 'olga', command: ['true'], secrets: ['db_password'] } });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it('bad secret lists are a 400 naming the field, on both routes', async (t) => {
    const f = await castFixture(t);
    const bad: unknown[] = ['openai_key', ['Upper'], ['../etc'], ['a/b'], [''], ['x'.repeat(57)], ['a b'], ['ok_key', 'ok_key'], [1], Array.from({ length: 33 }, (_, i) => `k${i}`), { a: 1 }];
    for (const route of ROUTES) {
      for (const secrets of bad) {
        const res = await f.send(f.people.olga, { method: 'POST', url: route.url, payload: { ...route.body(f.people.olga), secrets } });
        const error = assertError(res, 400, 'invalid_request');
        assert.match(JSON.stringify(error), /secrets/, `${route.what} ${JSON.stringify(secrets)}: ${res.body}`);
      }
    }
    assert.equal(f.service.executed.length + f.service.created.length, 0);
  });
});
