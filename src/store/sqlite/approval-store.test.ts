import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StoreError } from '../errors.ts';
import { freshKey, tempStorePath } from '../test-helpers.ts';
import { loadSqlite } from './load-sqlite.ts';
import { ensurePrivateDatabaseFile } from './private-file.ts';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.ts';
import { SqliteStore } from './sqlite-store.ts';

const approval = (id: string, createdAtMs: number, requesterAgentId = 'alice') => ({
  id,
  actionDigest: `sha256:${'0'.repeat(64)}`,
  requesterName: requesterAgentId,
  requesterAgentId,
  action: 'create' as const,
  sandboxId: null,
  summary: { network: 'full' },
  policyIds: ['p'],
  reasons: ['r'],
  createdAtMs,
  expiresAtMs: createdAtMs + 60_000,
});

test('a store of schema version 1 gains the approvals tables and keeps its principals', async (t) => {
  const { path } = await tempStorePath(t);
  ensurePrivateDatabaseFile(path);
  const { DatabaseSync } = loadSqlite();
  const db = new DatabaseSync(path);
  db.exec((MIGRATIONS[0] as { sql: string }).sql);
  db.exec('PRAGMA user_version = 1');
  db.prepare("INSERT INTO principals (name, role, agent_id, created_at) VALUES ('old', 'agent', 'old', 1)").run();
  db.close();
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  assert.equal(SCHEMA_VERSION >= 2, true);
  assert.deepEqual((await store.listPrincipals()).map((p) => p.name), ['old']);
  await store.approvals.create(approval('apr_1', 1000));
  assert.equal((await store.approvals.get('apr_1'))?.state, 'pending');
});

test('approvals: an id is used once, lists are newest first and filter by tenant', async (t) => {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  await store.addPrincipal({ name: 'alice', role: 'agent', publicKeyPem: freshKey().pem });
  await store.approvals.create(approval('apr_a', 1000));
  await store.approvals.create(approval('apr_b', 2000, 'bob'));
  await store.approvals.create(approval('apr_c', 3000));
  await assert.rejects(store.approvals.create(approval('apr_a', 4000)), (err: unknown) => err instanceof StoreError && err.code === 'invalid_input');
  assert.deepEqual((await store.approvals.list()).map((a) => a.id), ['apr_c', 'apr_b', 'apr_a']);
  assert.deepEqual((await store.approvals.list({ requesterAgentId: 'alice' })).map((a) => a.id), ['apr_c', 'apr_a']);
  assert.deepEqual((await store.approvals.get('apr_a'))?.summary, { network: 'full' });
});

test('a decision and a consumption are each taken once; the nonce is remembered until the decision expires', async (t) => {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  await store.approvals.create(approval('apr_a', 1000));
  await store.approvals.create(approval('apr_b', 1000));
  const decide = (id: string, nonce: string, nowMs: number) => store.approvals.recordDecision({ id, decision: 'approve', decidedBy: 'bob', keyId: 'k', nonce, decisionExpiresAtMs: 30_000, nowMs });
  assert.equal(await store.approvals.consume('apr_a', 2000), 'pending');
  assert.equal(await decide('apr_a', 'n1', 2000), 'decided');
  assert.equal(await decide('apr_a', 'n2', 2000), 'already_decided');
  assert.equal(await decide('apr_b', 'n1', 2000), 'nonce_replayed');
  assert.equal(await decide('apr_x', 'n3', 2000), 'not_found');
  assert.equal(await store.approvals.consume('apr_a', 2000), 'consumed');
  assert.equal(await store.approvals.consume('apr_a', 2000), 'already_consumed');
  // Past the approval's expiry (61 s) nothing is decided.
  assert.equal(await decide('apr_b', 'n4', 61_000), 'expired');
});
