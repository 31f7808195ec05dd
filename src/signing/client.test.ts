import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestSigner } from './client.ts';
import { loadPublicKeyFile, writeNewKeyPair } from './key-files.ts';
import { MemoryReplayCache } from './replay-cache.ts';
import { RequestVerifier } from './verify.ts';

test('a signer loaded from a key file produces headers the verifier accepts, with a new nonce each time', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-client-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { keyId: kid } = await writeNewKeyPair(join(dir, 'agent'));
  const publicKey = await loadPublicKeyFile(join(dir, 'agent.pub'));
  const signer = await RequestSigner.fromKeyFile(join(dir, 'agent'));
  assert.equal(signer.keyId, kid);

  const url = new URL('http://127.0.0.1:8002/api/v1/sandboxes');
  const body = JSON.stringify({ runtime: 'namespace' });
  const headers = { 'content-type': 'application/json' };
  const first = signer.headers({ method: 'POST', url, headers, body }, ['content-type']);
  const second = signer.headers({ method: 'POST', url, headers, body });
  assert.notEqual(first['signature-input'], second['signature-input']);
  assert.match(first['signature-input'], /"content-type"/);

  const verifier = new RequestVerifier({ lookupKey: (k) => (k === kid ? { publicKey } : undefined), replayCache: new MemoryReplayCache() });
  for (const signed of [first, second]) {
    const result = await verifier.verify({ method: 'POST', targetUri: url.href, headers: { ...headers, ...signed }, body });
    assert.ok(result.ok, result.ok ? '' : result.reason);
  }
});
