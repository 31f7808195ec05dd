import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { generateEd25519KeyPair, keyId, privateKeyPem } from '../src/signing/keys.ts';
import { MemoryReplayCache } from '../src/signing/replay-cache.ts';
import { signRequest } from '../src/signing/sign.ts';
import { RequestVerifier } from '../src/signing/verify.ts';
import { importSigningKey, signedHeaders } from './signing.ts';

const NOW_S = 1_800_000_000;

describe('SDK request signing (WebCrypto)', () => {
  it('computes the RFC 8037 A.3 key id for the A.1 key', async () => {
    const jwk = { kty: 'OKP', crv: 'Ed25519', d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    const key = await importSigningKey(privateKeyPem(createPrivateKey({ key: jwk, format: 'jwk' })));
    assert.equal(key.keyId, 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
    assert.equal(key.privateKey.extractable, false);
  });

  it('writes byte-for-byte the headers the Node signer writes, and the server verifier accepts them', async () => {
    const { privateKey, publicKey } = generateEd25519KeyPair();
    const key = await importSigningKey(privateKeyPem(privateKey));
    assert.equal(key.keyId, keyId(publicKey));
    const verifier = new RequestVerifier({ lookupKey: (kid) => (kid === key.keyId ? { publicKey } : undefined), replayCache: new MemoryReplayCache(), now: () => NOW_S * 1000 });
    const cases = [
      { method: 'POST', url: 'http://127.0.0.1:8002/api/v1/sandboxes', headers: { 'Content-Type': 'application/json' }, body: '{"runtime":"namespace"}', cover: ['content-type'] },
      { method: 'GET', url: 'http://[::1]:8002/api/v1/sandboxes?state=running', headers: {}, body: undefined, cover: [] },
    ];
    for (const [i, c] of cases.entries()) {
      const nonce = `nonce-for-case-${i}-0123456789`;
      const sdk = await signedHeaders(key, c, { created: NOW_S, nonce, cover: c.cover });
      const node = signRequest({ request: { method: c.method, targetUri: c.url, headers: c.headers, body: c.body }, privateKey, created: NOW_S, nonce, extraComponents: c.cover });
      assert.deepEqual(sdk, { ...node });
      const result = await verifier.verify({ method: c.method, targetUri: c.url, headers: { ...c.headers, ...sdk }, body: c.body });
      assert.ok(result.ok, result.ok ? '' : result.reason);
    }
  });

  it('uses a new nonce on every call', async () => {
    const key = await importSigningKey(privateKeyPem(generateEd25519KeyPair().privateKey));
    const request = { method: 'GET', url: 'http://localhost:8002/health' };
    assert.notEqual((await signedHeaders(key, request))['signature-input'], (await signedHeaders(key, request))['signature-input']);
  });

  it('refuses what it cannot sign faithfully: other key types, non-PEM, uncovered or non-ASCII values, bad labels', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await assert.rejects(importSigningKey(ec), /not an Ed25519 private key/);
    await assert.rejects(importSigningKey('hello'), /not a PKCS#8 PEM private key/);
    const key = await importSigningKey(privateKeyPem(generateEd25519KeyPair().privateKey));
    const request = { method: 'GET', url: 'http://localhost:8002/x' };
    await assert.rejects(signedHeaders(key, request, { cover: ['x-missing'] }), /does not send it/);
    await assert.rejects(signedHeaders(key, request, { cover: ['@authority'] }), /lowercase header names/);
    await assert.rejects(signedHeaders(key, request, { nonce: 'é'.repeat(20) }), /only printable ASCII/);
    await assert.rejects(signedHeaders(key, request, { label: 'Sig' }), /invalid signature label/);
  });

  it('loads only sdk/ modules and no node: built-ins (browser-safe)', () => {
    const sdkDir = fileURLToPath(new URL('./', import.meta.url));
    const script = `
      import module from 'node:module';
      const loaded = [];
      module.registerHooks({ resolve(s, c, next) { const r = next(s, c); loaded.push(r.url); return r; } });
      await import(${JSON.stringify(new URL('./signing.ts', import.meta.url).href)});
      process.stdout.write(JSON.stringify(loaded));`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    const loaded = JSON.parse(out.stdout) as string[];
    assert.ok(loaded.length >= 2);
    for (const url of loaded) assert.ok(url.startsWith('file://') && fileURLToPath(url).startsWith(sdkDir), `loaded ${url}`);
  });
});
