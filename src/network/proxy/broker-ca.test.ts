import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { createBrokerCa } from './broker-ca.ts';
import { PlaceholderScanner } from './body-screen.ts';

describe('broker CA', () => {
  it('is a P-256 CA that may sign leaves only (path length 0)', async () => {
    const ca = await createBrokerCa('sbx-1');
    const cert = new X509Certificate(ca.certificatePem);
    assert.equal(cert.ca, true);
    assert.match(cert.subject, /CN=airlock broker CA sbx-1/);
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    const text = (await import('node:child_process')).execFileSync('openssl', ['x509', '-noout', '-text'], { input: ca.certificatePem }).toString();
    assert.match(text, /CA:TRUE, pathlen:0/);
    assert.match(text, /Certificate Sign, CRL Sign/);
  });

  it('mints a leaf for exactly one host, issued by it, and keeps it for the next request', async () => {
    const ca = await createBrokerCa('sbx-1');
    const caCert = new X509Certificate(ca.certificatePem);
    const leaf = await ca.leafFor('api.example.com');
    const cert = new X509Certificate(leaf.cert);
    assert.equal(cert.ca, false);
    assert.ok(cert.checkIssued(caCert) && cert.verify(caCert.publicKey));
    assert.equal(cert.subjectAltName, 'DNS:api.example.com');
    assert.equal(cert.checkHost('api.example.com'), 'api.example.com');
    assert.equal(cert.checkHost('other.example.com'), undefined);
    assert.equal(cert.checkHost('x.api.example.com'), undefined);
    assert.equal((await ca.leafFor('api.example.com')).cert, leaf.cert, 'cached per host');
    assert.notEqual((await ca.leafFor('other.example.com')).cert, leaf.cert);
    const ipLeaf = new X509Certificate((await ca.leafFor('203.0.113.7')).cert);
    assert.equal(ipLeaf.subjectAltName, 'IP Address:203.0.113.7');
    assert.equal(ipLeaf.checkIP('203.0.113.7'), '203.0.113.7');
  });

  it('is unrelated to any other sandbox\'s CA', async () => {
    const [a, b] = await Promise.all([createBrokerCa('a'), createBrokerCa('b')]);
    const leaf = new X509Certificate((await a.leafFor('api.example.com')).cert);
    assert.equal(leaf.verify(new X509Certificate(b.certificatePem).publicKey), false);
  });

  it('mints nothing once disposed', async () => {
    const ca = await createBrokerCa('sbx-1');
    await ca.leafFor('api.example.com');
    ca.dispose();
    await assert.rejects(ca.leafFor('api.example.com'), /disposed/);
  });
});

describe('placeholder scanner', () => {
  const credential = { name: 'k', placeholder: 'airlock-brokered-0123456789abcdef', hosts: [], header: 'A', format: '{value}', value: () => Buffer.alloc(0) };

  it('finds a placeholder split across any two chunks, having forwarded no byte of it', () => {
    const text = Buffer.from(`hello ${credential.placeholder} world`);
    for (let cut = 0; cut <= text.length; cut += 1) {
      const scanner = new PlaceholderScanner([credential]);
      const a = scanner.push(text.subarray(0, cut));
      const b = a.hit.length > 0 ? a : scanner.push(text.subarray(cut));
      assert.deepEqual(b.hit, ['k'], `cut at ${cut}`);
      assert.ok(!a.out.toString().includes('airlock'), `cut at ${cut}: forwarded ${a.out.toString()}`);
    }
  });

  it('passes a clean stream through whole, holding back only the tail until the end', () => {
    const scanner = new PlaceholderScanner([credential]);
    const parts = ['a'.repeat(10), 'airlock-brokered-0123', 'b'.repeat(40)].map((p) => scanner.push(Buffer.from(p)));
    assert.ok(parts.every((p) => p.hit.length === 0));
    assert.equal(Buffer.concat([...parts.map((p) => p.out), scanner.end()]).toString(), `${'a'.repeat(10)}airlock-brokered-0123${'b'.repeat(40)}`);
  });
});
