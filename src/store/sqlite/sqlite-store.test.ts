import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { StoreError } from '../errors.ts';
import { freshKey, tempStorePath } from '../test-helpers.ts';
import { loadSqlite } from './load-sqlite.ts';
import { SCHEMA_VERSION } from './migrations.ts';
import { SqliteStore } from './sqlite-store.ts';

function refusedWith(code: string) {
  return (err: unknown) => err instanceof StoreError && err.code === code;
}

function userVersion(path: string): number {
  const { DatabaseSync } = loadSqlite();
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
  } finally {
    db.close();
  }
}

test('opening an empty directory creates a private database at the current schema version', async (t) => {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  assert.equal(statSync(dirname(path)).mode & 0o777, 0o700);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(path).uid, process.getuid?.());
  assert.equal(userVersion(path), SCHEMA_VERSION);
  assert.deepEqual(await store.listPrincipals(), []);
  // SQLite gives its write-ahead log and shared-memory files the database file's mode.
  await store.addPrincipal({ name: 'a', role: 'agent', publicKeyPem: freshKey().pem });
  for (const suffix of ['-wal', '-shm']) assert.equal(statSync(`${path}${suffix}`).mode & 0o777, 0o600, suffix);
});

test('importing node:sqlite through the store prints no ExperimentalWarning', async () => {
  const script = `import { loadSqlite } from ${JSON.stringify(new URL('./load-sqlite.ts', import.meta.url).href)}; loadSqlite(); process.emitWarning('other warning');`;
  const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  assert.doesNotMatch(stderr, /SQLite is an experimental feature/);
  // Other warnings still pass.
  assert.match(stderr, /other warning/);
});

test('a principal and its key survive a reopen; the key id is the thumbprint the store computed', async (t) => {
  const { path } = await tempStorePath(t);
  const key = freshKey();
  let store = await SqliteStore.open({ path, now: () => Date.parse('2026-01-02T03:04:05Z') });
  const added = await store.addPrincipal({ name: 'ci-agent', role: 'agent', groups: ['team-b', 'team-a', 'team-a'], publicKeyPem: key.pem });
  assert.equal(added.agentId, 'ci-agent');
  assert.deepEqual(added.groups, ['team-a', 'team-b']);
  assert.deepEqual(added.keys.map((k) => k.keyId), [key.id]);
  await store.close();

  store = await SqliteStore.open({ path });
  t.after(() => store.close());
  const shown = await store.getPrincipal('ci-agent');
  assert.deepEqual(shown, added);
  assert.equal(shown?.createdAt, '2026-01-02T03:04:05.000Z');
  const active = await store.lookupActiveKey(key.id);
  assert.equal(active?.principal.name, 'ci-agent');
  assert.equal(active?.principal.role, 'agent');
  assert.ok(active?.publicKey.equals(key.publicKey));
  assert.equal(await store.lookupActiveKey('not-a-key-id'), undefined);
});

test('a revoked key is never returned by lookup, also after a reopen, and cannot be re-added', async (t) => {
  const { path } = await tempStorePath(t);
  const first = freshKey();
  const second = freshKey();
  let store = await SqliteStore.open({ path });
  await store.addPrincipal({ name: 'alice', role: 'operator', publicKeyPem: first.pem });
  await store.addKey('alice', second.pem);
  const revoked = await store.revokeKey(first.id);
  assert.equal(revoked.principal, 'alice');
  assert.notEqual(revoked.revokedAt, null);
  assert.equal(await store.lookupActiveKey(first.id), undefined);
  assert.equal((await store.lookupActiveKey(second.id))?.principal.name, 'alice');
  await assert.rejects(store.revokeKey(first.id), refusedWith('key_revoked'));
  await assert.rejects(store.revokeKey('unknown'), refusedWith('key_unknown'));
  // Re-adding the revoked key, to the same principal or to a new one, would undo the revocation.
  await assert.rejects(store.addKey('alice', first.pem), refusedWith('key_exists'));
  await assert.rejects(store.addPrincipal({ name: 'mallory', role: 'operator', publicKeyPem: first.pem }), refusedWith('key_exists'));
  assert.equal(await store.getPrincipal('mallory'), undefined);
  await store.close();

  store = await SqliteStore.open({ path });
  t.after(() => store.close());
  assert.equal(await store.lookupActiveKey(first.id), undefined);
  const alice = await store.getPrincipal('alice');
  assert.deepEqual(new Map(alice?.keys.map((k) => [k.keyId, k.revokedAt !== null])), new Map([[first.id, true], [second.id, false]]));
});

test('duplicate names and keys are refused and change nothing', async (t) => {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  const key = freshKey();
  await store.addPrincipal({ name: 'bob', role: 'agent', publicKeyPem: key.pem });
  const before = await store.listPrincipals();

  await assert.rejects(store.addPrincipal({ name: 'bob', role: 'approver', publicKeyPem: freshKey().pem }), refusedWith('principal_exists'));
  // The same key under another name: refused, and the new principal is rolled back with it.
  await assert.rejects(store.addPrincipal({ name: 'carol', role: 'agent', groups: ['g'], publicKeyPem: key.pem }), refusedWith('key_exists'));
  await assert.rejects(store.addKey('bob', key.pem), refusedWith('key_exists'));
  await assert.rejects(store.addKey('nobody', freshKey().pem), refusedWith('principal_unknown'));
  assert.deepEqual(await store.listPrincipals(), before);
});

test('malformed input is refused before anything is written', async (t) => {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const ed = freshKey();
  const privatePem = ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cases: [string, Parameters<SqliteStore['addPrincipal']>[0], RegExp][] = [
    ['RSA key', { name: 'a', role: 'agent', publicKeyPem: rsa }, /not an Ed25519 public key/],
    ['private key', { name: 'a', role: 'agent', publicKeyPem: privatePem }, /private key/],
    ['garbage', { name: 'a', role: 'agent', publicKeyPem: 'hello' }, /not a PEM public key/],
    ['name with escape', { name: 'a\u001b[2J', role: 'agent', publicKeyPem: ed.pem }, /principal name .* is not valid/],
    ['option-like name', { name: '--role', role: 'agent', publicKeyPem: ed.pem }, /principal name/],
    ['role', { name: 'a', role: 'root' as 'agent', publicKeyPem: ed.pem }, /role "root" is not one of agent, operator, approver/],
    ['group', { name: 'a', role: 'agent', groups: ['ok', 'not ok'], publicKeyPem: ed.pem }, /group "not ok"/],
    ['agent id', { name: 'a', role: 'agent', agentId: '', publicKeyPem: ed.pem }, /agent id ""/],
  ];
  for (const [what, input, message] of cases) {
    await assert.rejects(store.addPrincipal(input), (err: unknown) => err instanceof StoreError && err.code === 'invalid_input' && message.test(err.message), what);
  }
  assert.deepEqual(await store.listPrincipals(), []);
  assert.equal(await store.lookupActiveKey(ed.id), undefined);
});

test('a store directory or file that is not private to the controller is refused', async (t) => {
  const { dir } = await tempStorePath(t);
  const open = (path: string) => SqliteStore.open({ path });

  const shared = join(dir, 'shared');
  mkdirSync(shared, { mode: 0o755 });
  chmodSync(shared, 0o755);
  await assert.rejects(open(join(shared, 'airlock.db')), (err: unknown) => err instanceof StoreError && err.code === 'store_unsafe' && /mode 0755\); chmod 700/.test(err.message));

  const priv = join(dir, 'private');
  mkdirSync(priv, { mode: 0o700 });
  writeFileSync(join(priv, 'readable.db'), '', { mode: 0o644 });
  chmodSync(join(priv, 'readable.db'), 0o644);
  await assert.rejects(open(join(priv, 'readable.db')), refusedWith('store_unsafe'));

  // A planted symlink is never followed to wherever it points.
  symlinkSync(join(dir, 'elsewhere.db'), join(priv, 'link.db'));
  await assert.rejects(open(join(priv, 'link.db')), refusedWith('store_unsafe'));
  assert.throws(() => statSync(join(dir, 'elsewhere.db')), /ENOENT/);
});

test('a database from a newer airlock is refused, not guessed at', async (t) => {
  const { path } = await tempStorePath(t);
  await (await SqliteStore.open({ path })).close();
  const { DatabaseSync } = loadSqlite();
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  await assert.rejects(SqliteStore.open({ path }), refusedWith('store_too_new'));
});

const CONCURRENT_SCRIPT = fileURLToPath(new URL('./concurrent-open.fixture.ts', import.meta.url));

test('processes opening a new store at once migrate it once and all their writes land', async (t) => {
  const { path } = await tempStorePath(t);
  const writers = 6;
  const results = await Promise.all(
    Array.from({ length: writers }, (_, i) => promisify(execFile)(process.execPath, [CONCURRENT_SCRIPT, path, `p${i}`, freshKey().pem])),
  );
  for (const r of results) assert.equal(r.stderr, '');
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  assert.deepEqual((await store.listPrincipals()).map((p) => p.name), Array.from({ length: writers }, (_, i) => `p${i}`));
  assert.equal(userVersion(path), SCHEMA_VERSION);
});

test('two handles in one process see each other\'s writes', async (t) => {
  const { path } = await tempStorePath(t);
  const a = await SqliteStore.open({ path });
  const b = await SqliteStore.open({ path });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const key = freshKey();
  await a.addPrincipal({ name: 'x', role: 'approver', publicKeyPem: key.pem });
  assert.equal((await b.lookupActiveKey(key.id))?.principal.role, 'approver');
  await b.revokeKey(key.id);
  assert.equal(await a.lookupActiveKey(key.id), undefined);
});
