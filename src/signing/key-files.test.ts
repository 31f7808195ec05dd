import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPrivateKeyFile, loadPublicKeyFile, writeNewKeyPair } from './key-files.ts';
import { keyId } from './keys.ts';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-keys-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('writes PREFIX (PKCS#8, 0600) and PREFIX.pub (SPKI), and both load back to the printed key id', async (t) => {
  const prefix = join(await tempDir(t), 'agent');
  const previous = process.umask(0o000);
  let written;
  try {
    written = await writeNewKeyPair(prefix);
  } finally {
    process.umask(previous);
  }
  assert.equal((await stat(prefix)).mode & 0o777, 0o600);
  assert.equal((await stat(`${prefix}.pub`)).mode & 0o777, 0o644);
  assert.match(await readFile(prefix, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
  assert.match(await readFile(`${prefix}.pub`, 'utf8'), /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
  assert.equal(keyId(await loadPrivateKeyFile(prefix)), written.keyId);
  assert.equal(keyId(await loadPublicKeyFile(`${prefix}.pub`)), written.keyId);
});

test('refuses to overwrite either file, leaves both untouched, and leaves no half pair behind', async (t) => {
  const dir = await tempDir(t);
  const prefix = join(dir, 'agent');
  await writeNewKeyPair(prefix);
  const before = await readFile(prefix, 'utf8');
  await assert.rejects(writeNewKeyPair(prefix), /refusing to overwrite .*agent: it already exists/);
  assert.equal(await readFile(prefix, 'utf8'), before);

  const other = join(dir, 'other');
  await writeFile(`${other}.pub`, 'keep me');
  await assert.rejects(writeNewKeyPair(other), /refusing to overwrite .*other\.pub/);
  assert.equal(await readFile(`${other}.pub`, 'utf8'), 'keep me');
  await assert.rejects(stat(other), { code: 'ENOENT' });

  // A link planted at the path (even a dangling one) is not followed.
  const linked = join(dir, 'linked');
  await symlink(join(dir, 'target-that-does-not-exist'), linked);
  await assert.rejects(writeNewKeyPair(linked), /refusing to overwrite/);
  await assert.rejects(stat(join(dir, 'target-that-does-not-exist')), { code: 'ENOENT' });
});

test('a private key file readable by group or others is refused, like ssh does', async (t) => {
  const prefix = join(await tempDir(t), 'agent');
  await writeNewKeyPair(prefix);
  await chmod(prefix, 0o640);
  await assert.rejects(loadPrivateKeyFile(prefix), /accessible by group or others \(mode 0640\); chmod 600 it/);
  await chmod(prefix, 0o600);
  await loadPrivateKeyFile(prefix);
  await assert.rejects(loadPublicKeyFile(prefix), /holds a private key/);
});
