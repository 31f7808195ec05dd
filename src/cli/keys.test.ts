import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPrivateKeyFile, loadPublicKeyFile } from '../signing/key-files.ts';
import { keyId } from '../signing/keys.ts';
import { runCli } from './test-cli.ts';

test('airlock keys gen --out PREFIX writes the pair and prints the key id of both files', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-cli-keys-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const prefix = join(dir, 'agent');
  const result = await runCli(['keys', 'gen', '--out', prefix]);
  assert.equal(result.code, 0, result.stderr);
  const kid = result.stdout.trim();
  assert.match(result.stdout, /^[A-Za-z0-9_-]{43}\n$/);
  assert.equal(kid, keyId(await loadPublicKeyFile(`${prefix}.pub`)));
  assert.equal(kid, keyId(await loadPrivateKeyFile(prefix)));
  assert.equal((await stat(prefix)).mode & 0o777, 0o600);
  assert.match(result.stderr, /wrote .*agent \(private, 0600\) and .*agent\.pub \(public\)/);

  const again = await runCli(['keys', 'gen', '--out', prefix]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /refusing to overwrite .*agent: it already exists/);
  assert.equal(again.stdout, '');
  assert.equal(keyId(await loadPublicKeyFile(`${prefix}.pub`)), kid);
});

test('airlock keys gen without --out is a usage error', async () => {
  const result = await runCli(['keys', 'gen']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--out <prefix>/);
});
