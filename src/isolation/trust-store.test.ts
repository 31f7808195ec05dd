import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ControlError } from '../host/control-error.ts';
import { composeTrustBundle, TRUST_STORE_ENV, TRUST_STORE_PATH } from './trust-store.ts';

const CA = '-----BEGIN CERTIFICATE-----\nBROKER\n-----END CERTIFICATE-----\n';

function imageRoot(t: { after(fn: () => void): void }, place: (certs: string) => void): string {
  const root = mkdtempSync(join(tmpdir(), 'airlock-trust-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const certs = join(root, 'etc/ssl/certs');
  mkdirSync(certs, { recursive: true });
  place(certs);
  return root;
}

const refusal = (pattern: RegExp) => (err: unknown) => err instanceof ControlError && err.message.startsWith('secrets.broker_ca: ') && pattern.test(err.message);

describe('trust store', () => {
  it('is the image\'s bundle with the broker CA appended', (t) => {
    const root = imageRoot(t, (certs) => writeFileSync(join(certs, 'ca-certificates.crt'), 'IMAGE-ROOTS'));
    assert.equal(composeTrustBundle(root, CA), `IMAGE-ROOTS\n${CA}`);
  });

  it('points OpenSSL, curl, Python requests and Node at that one file', () => {
    assert.deepEqual(Object.keys(TRUST_STORE_ENV).sort(), ['CURL_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE']);
    assert.ok(Object.values(TRUST_STORE_ENV).every((v) => v === TRUST_STORE_PATH));
  });

  it('fails closed, naming secrets.broker_ca, when the image has no bundle', (t) => {
    const root = imageRoot(t, () => undefined);
    assert.throws(() => composeTrustBundle(root, CA), refusal(/has no \/etc\/ssl\/certs\/ca-certificates\.crt/));
  });

  it('never follows a link in the image (one to a host file would be read as root)', (t) => {
    const secret = join(tmpdir(), `airlock-trust-host-${process.pid}`);
    writeFileSync(secret, 'HOST-ONLY');
    t.after(() => rmSync(secret, { force: true }));
    const root = imageRoot(t, (certs) => symlinkSync(secret, join(certs, 'ca-certificates.crt')));
    assert.throws(() => composeTrustBundle(root, CA), refusal(/symbolic link|ELOOP/));
    const dirLink = imageRoot(t, () => undefined);
    rmSync(join(dirLink, 'etc/ssl/certs'), { recursive: true });
    symlinkSync(tmpdir(), join(dirLink, 'etc/ssl/certs'));
    assert.throws(() => composeTrustBundle(dirLink, CA), refusal(/symbolic link|ELOOP/));
  });

  it('refuses a bundle that is not a regular file', (t) => {
    const root = imageRoot(t, (certs) => mkdirSync(join(certs, 'ca-certificates.crt')));
    assert.throws(() => composeTrustBundle(root, CA), refusal(/not a regular file/));
  });
});
