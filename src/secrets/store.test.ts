import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { FileSecretStore, SecretStoreError } from './file-store.ts';
import { EnvSecretProvider } from './env-provider.ts';
import { AmbiguousSecretError, SecretRegistry, UnknownSecretError } from './registry.ts';
import { checkSecretName, checkSecretNames, SecretNameError } from './names.ts';
import { SecretValueError } from './value.ts';

const VALUE = 'correct horse battery staple';

function tempStore(t: { after(fn: () => void): void }): FileSecretStore {
  const dir = mkdtempSync(`${tmpdir()}/airlock-secrets-test-`);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return new FileSecretStore(`${dir}/secrets`);
}

test('the store keeps values encrypted at rest in private files, and gives them back', async (t) => {
  const store = tempStore(t);
  await store.set('api_key', Buffer.from(VALUE));
  assert.equal((await store.get('api_key'))?.bytes().toString(), VALUE);
  for (const path of [store.dir, `${store.dir}/values`, store.keyPath, `${store.dir}/values/api_key.json`]) {
    assert.equal(statSync(path).mode & 0o077, 0, `${path} is private`);
  }
  const onDisk = readFileSync(`${store.dir}/values/api_key.json`);
  assert.ok(!onDisk.includes(VALUE) && !onDisk.includes(Buffer.from(VALUE).toString('base64')), 'no plaintext on disk');
  assert.equal(statSync(store.keyPath).size, 32);
  // Replaced atomically: no temporary file is left.
  await store.set('api_key', Buffer.from(`${VALUE}!`));
  assert.deepEqual(readdirSync(`${store.dir}/values`), ['api_key.json']);
  assert.equal((await store.get('api_key'))?.bytes().toString(), `${VALUE}!`);
  assert.deepEqual((await store.list()).map((l) => [l.name, l.provider]), [['api_key', 'store']]);
  assert.equal(await store.remove('api_key'), true);
  assert.equal(await store.remove('api_key'), false);
  assert.equal(await store.get('api_key'), undefined);
});

test('a value moved to another name, or tampered with, does not decrypt', async (t) => {
  const store = tempStore(t);
  await store.set('one_key', Buffer.from(VALUE));
  renameSync(`${store.dir}/values/one_key.json`, `${store.dir}/values/two_key.json`);
  await assert.rejects(store.get('two_key'), SecretStoreError);
  await store.set('three_key', Buffer.from(VALUE));
  const path = `${store.dir}/values/three_key.json`;
  const sealed = JSON.parse(readFileSync(path, 'utf8')) as { data: string };
  const data = Buffer.from(sealed.data, 'base64');
  data[0] = (data[0] as number) ^ 1;
  writeFileSync(path, JSON.stringify({ ...sealed, data: data.toString('base64') }), { mode: 0o600 });
  await assert.rejects(store.get('three_key'), (err: Error) => err instanceof SecretStoreError && !err.message.includes(VALUE));
});

test('a key others can read is refused (fail closed)', async (t) => {
  const store = tempStore(t);
  await store.set('api_key', Buffer.from(VALUE));
  chmodSync(store.keyPath, 0o644);
  await assert.rejects(store.get('api_key'), /no group or other access/);
});

test('names and values are validated strictly', async (t) => {
  const store = tempStore(t);
  for (const bad of ['', 'A', '1abc', '../x', 'a/b', 'a.b', 'a b', 'x'.repeat(57), 'a\n', '.hidden']) {
    assert.throws(() => checkSecretName(bad), SecretNameError, JSON.stringify(bad));
    await assert.rejects(store.set(bad, Buffer.from(VALUE)), SecretNameError);
  }
  assert.equal(checkSecretName('openai_key'), 'openai_key');
  assert.throws(() => checkSecretNames(['a_key', 'a_key']), /named twice/);
  await assert.rejects(store.set('short', Buffer.from('1234567')), SecretValueError);
  await assert.rejects(store.set('huge', Buffer.alloc(64 * 1024 + 1, 1)), SecretValueError);
});

test('the environment provider reads only mapped variables', async () => {
  const env = { AIRLOCK_TEST_TOKEN: VALUE, OTHER: 'not mapped at all' };
  const provider = new EnvSecretProvider({ gh_token: 'AIRLOCK_TEST_TOKEN', missing_one: 'NOT_SET' }, env);
  assert.equal((await provider.get('gh_token'))?.bytes().toString(), VALUE);
  assert.equal(await provider.get('other'), undefined, 'an unmapped variable is never read');
  await assert.rejects(provider.get('missing_one'), /^EnvSecretMissingError: secret missing_one: NOT_SET is not set in the controller's environment$/);
  assert.deepEqual((await provider.list()).map((l) => l.name), ['gh_token', 'missing_one']);
  assert.throws(() => new EnvSecretProvider({ 'Bad Name': 'X' }, env), SecretNameError);
});

test('the registry resolves through its providers, naming an unknown or doubly held secret', async (t) => {
  const store = tempStore(t);
  await store.set('api_key', Buffer.from(VALUE));
  await store.set('both_key', Buffer.from(VALUE));
  const env = new EnvSecretProvider({ gh_token: 'T', both_key: 'T' }, { T: 'token-token-token' });
  const registry = new SecretRegistry([store, env]);
  const resolved = await registry.resolve(['api_key', 'gh_token']);
  assert.deepEqual(resolved.map((r) => [r.name, r.provider, r.delivery.kind]), [['api_key', 'store', 'file'], ['gh_token', 'env', 'file']]);
  await assert.rejects(registry.resolve(['api_key', 'nope']), (err: Error) => err instanceof UnknownSecretError && err.message === 'no secret named nope');
  await assert.rejects(registry.resolve(['both_key']), AmbiguousSecretError);
  assert.deepEqual((await registry.list()).map((l) => `${l.name}/${l.provider}`), ['api_key/store', 'both_key/env', 'both_key/store', 'gh_token/env']);
});
