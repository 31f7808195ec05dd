/**
 * `loadSigningKey`: the key file `airlock keys gen` writes, refused when others may read it.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeNewKeyPair } from '../src/signing/key-files.ts';
import { loadSigningKey } from './node.ts';

describe('loadSigningKey', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-sdk-key-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a key written by airlock keys gen, with the same key id', async () => {
    const written = await writeNewKeyPair(join(dir, 'agent'));
    const key = await loadSigningKey(written.privateKeyPath);
    assert.equal(key.keyId, written.keyId);
    assert.equal(key.privateKey.extractable, false);
  });

  it('refuses a key file group or others may read, and names the fix', async () => {
    const written = await writeNewKeyPair(join(dir, 'shared'));
    chmodSync(written.privateKeyPath, 0o640);
    await assert.rejects(loadSigningKey(written.privateKeyPath), /accessible by group or others \(mode 0640\); chmod 600 it/);
  });

  it('names the file, never its content, when it is not a key', async () => {
    const path = join(dir, 'not-a-key');
    writeFileSync(path, 'SECRET-CONTENT-THAT-IS-NOT-A-KEY', { mode: 0o600 });
    await assert.rejects(loadSigningKey(path), (err: unknown) => {
      const message = (err as Error).message;
      return message.startsWith(`private key ${path}: not a PKCS#8 PEM private key`) && !message.includes('SECRET');
    });
    await assert.rejects(loadSigningKey(join(dir, 'absent')), { code: 'ENOENT' });
    await assert.rejects(loadSigningKey(dir), /is not a regular file/);
  });
});
