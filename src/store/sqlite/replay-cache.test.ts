import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RequestSigner } from '../../signing/client.ts';
import type { SignableRequest } from '../../signing/message.ts';
import { RequestVerifier } from '../../signing/verify.ts';
import type { ActiveKey } from '../store.ts';
import { freshKey, tempStorePath } from '../test-helpers.ts';
import { SqliteStore } from './sqlite-store.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');

test('a nonce is fresh once, replayed until it expires, then forgotten', async (t) => {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  const cache = store.replayCache;
  assert.equal(await cache.checkAndRemember('n-1', NOW + 1000, NOW), 'fresh');
  assert.equal(await cache.checkAndRemember('n-1', NOW + 1000, NOW + 999), 'replayed');
  assert.equal(await cache.checkAndRemember('n-2', NOW + 1000, NOW + 999), 'fresh');
  // Expired: dropped on the next check, so the nonce is new again (the verifier's skew check refuses it anyway).
  assert.equal(await cache.checkAndRemember('n-1', NOW + 5000, NOW + 1000), 'fresh');
});

test('remembered nonces survive a reopen of the store', async (t) => {
  const { path } = await tempStorePath(t);
  let store = await SqliteStore.open({ path });
  assert.equal(await store.replayCache.checkAndRemember('before-restart', NOW + 60_000, NOW), 'fresh');
  await store.close();
  store = await SqliteStore.open({ path });
  t.after(() => store.close());
  assert.equal(await store.replayCache.checkAndRemember('before-restart', NOW + 60_000, NOW + 1000), 'replayed');
});

test('past its bound the cache answers full instead of forgetting a live nonce, and frees room as nonces expire', async (t) => {
  const { path } = await tempStorePath(t);
  let store = await SqliteStore.open({ path, maxNonces: 2 });
  assert.equal(await store.replayCache.checkAndRemember('a', NOW + 100, NOW), 'fresh');
  assert.equal(await store.replayCache.checkAndRemember('b', NOW + 200, NOW), 'fresh');
  assert.equal(await store.replayCache.checkAndRemember('c', NOW + 200, NOW), 'full');
  assert.equal(await store.replayCache.checkAndRemember('a', NOW + 100, NOW), 'replayed');
  await store.close();
  // The count of live nonces is persistent too: a reopen does not reset the bound.
  store = await SqliteStore.open({ path, maxNonces: 2 });
  t.after(() => store.close());
  assert.equal(await store.replayCache.checkAndRemember('c', NOW + 200, NOW + 50), 'full');
  assert.equal(await store.replayCache.checkAndRemember('c', NOW + 300, NOW + 100), 'fresh');
  assert.equal(await store.replayCache.checkAndRemember('b', NOW + 200, NOW + 100), 'replayed');
});

test('a signed request captured before a controller restart is refused as a replay after it', async (t) => {
  const { path } = await tempStorePath(t);
  const key = freshKey();
  let store = await SqliteStore.open({ path });
  await store.addPrincipal({ name: 'agent-1', role: 'agent', publicKeyPem: key.pem });
  const signer = new RequestSigner(key.privateKey, { now: () => NOW });
  const url = 'http://127.0.0.1:8002/api/v1/sandbox/execute';
  const body = '{"code":"print(1)"}';
  const request: SignableRequest = { method: 'POST', targetUri: url, headers: { 'content-type': 'application/json', ...signer.headers({ method: 'POST', url, body }) }, body };
  const verifierOf = (s: SqliteStore) => new RequestVerifier<ActiveKey>({ lookupKey: (id) => s.lookupActiveKey(id), replayCache: s.replayCache, now: () => NOW + 2000 });

  const first = await verifierOf(store).verify(request);
  assert.equal(first.ok, true);
  assert.equal(first.ok && first.key.principal.name, 'agent-1');
  await store.close();

  store = await SqliteStore.open({ path });
  t.after(() => store.close());
  const replayed = await verifierOf(store).verify(request);
  assert.equal(replayed.ok, false);
  assert.equal(!replayed.ok && replayed.code, 'nonce_replayed');

  // And once its key is revoked, even a freshly signed request is refused as an unknown key.
  await store.revokeKey(key.id);
  const fresh: SignableRequest = { method: 'POST', targetUri: url, headers: { 'content-type': 'application/json', ...signer.headers({ method: 'POST', url, body }) }, body };
  const revoked = await verifierOf(store).verify(fresh);
  assert.equal(!revoked.ok && revoked.code, 'key_unknown');
});
