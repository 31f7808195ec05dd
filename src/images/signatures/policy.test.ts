/**
 * The image policy on stored images: origins and rules, cosign-form signatures by ECDSA P-256 and
 * Ed25519 keys, what a signature must be bound to, and the refusals' wording (they name the rule).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configSchema, parseConfig } from '../../config/config.ts';
import type { ImagePolicyConfig } from '../../config/image-policy-config.ts';
import { storePaths } from '../paths.ts';
import { resolveImage } from '../store.ts';
import { applyImagePolicy } from './enforce.ts';
import { loadTrustedKey, verifyPayloadSignature } from './keys.ts';
import { buildPayload, COSIGN_SIGNATURE_TYPE, parsePayload } from './payload.ts';
import { checkOrigin, evaluateStoredImage, ImagePolicyRefusal, ruleFor } from './policy.ts';
import { saveOrigin, saveSignature } from './records.ts';
import { signPayload, signStoredImage } from './sign.ts';
import { storeSkip, tinyStore } from './test-store.ts';

const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const ed = generateKeyPairSync('ed25519');
const pem = (k: { publicKey: { export(o: object): string | Buffer } }) => k.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const policyOf = (p: Partial<ImagePolicyConfig>) => configSchema.parse({ imagePolicy: p }).imagePolicy;

test('payload: the cosign simple-signing form, and only that', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const bytes = buildPayload('registry.example/app', digest);
  assert.deepEqual(parsePayload(bytes), { digest, reference: 'registry.example/app' });
  const doc = JSON.parse(bytes.toString()) as { critical: { type: string } };
  assert.equal(doc.critical.type, COSIGN_SIGNATURE_TYPE);
  assert.throws(() => parsePayload(Buffer.from(JSON.stringify({ critical: { ...doc.critical, type: 'something else' } }))), /type is not "cosign container image signature"/);
  assert.throws(() => parsePayload(Buffer.from(JSON.stringify({ critical: { type: COSIGN_SIGNATURE_TYPE, image: { 'docker-manifest-digest': 'sha256:short' } } }))), /no sha256 manifest digest/);
  assert.throws(() => parsePayload(Buffer.from('not json')), /not JSON/);
});

test('keys: ECDSA P-256 (DER, SHA-256) and Ed25519 verify; other keys are refused; a changed payload fails', async () => {
  const payload = buildPayload('r/app', `sha256:${'b'.repeat(64)}`);
  for (const pair of [ec, ed]) {
    const { key } = await loadTrustedKey({ id: 'k', pem: pem(pair) });
    const sig = signPayload(pair.privateKey, payload);
    assert.equal(verifyPayloadSignature(key, payload, sig), true);
    assert.equal(verifyPayloadSignature(key, Buffer.concat([payload, Buffer.from(' ')]), sig), false);
    assert.equal(verifyPayloadSignature(key, payload, Buffer.from('garbage')), false);
  }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await assert.rejects(loadTrustedKey({ id: 'old-rsa', pem: pem(rsa) }), /trusted key old-rsa is a rsa key; only ECDSA P-256 and Ed25519 are accepted/);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
  await assert.rejects(loadTrustedKey({ id: 'p384', pem: pem(p384) }), /only ECDSA P-256 and Ed25519/);
  await assert.rejects(loadTrustedKey({ id: 'gone', file: '/nonexistent/key.pem' }), /trusted key gone: cannot read \/nonexistent\/key.pem/);
});

test('config: rules are checked when the configuration is loaded', () => {
  assert.throws(() => parseConfig({ imagePolicy: { rules: [{ name: 'all', match: ['**'] }] } }), /too broad/);
  assert.throws(() => parseConfig({ imagePolicy: { rules: [{ name: 'signed', match: ['ghcr.io/**'], requireSignature: true }] } }), /requireSignature needs at least one key/);
  assert.throws(() => parseConfig({ imagePolicy: { rules: [{ name: 'k', match: ['ghcr.io/**'], keys: [{ id: 'a' }] }] } }), /exactly one of pem and file/);
  assert.throws(() => parseConfig({ imagePolicy: { unmatched: 'maybe' } }), /imagePolicy.unmatched/);
  assert.deepEqual(parseConfig({}).imagePolicy, { rules: [], unmatched: 'allow' });
});

test('rules: first match by glob over the origin; unmatched follows imagePolicy.unmatched', () => {
  const policy = policyOf({
    rules: [
      { name: 'team', match: ['ghcr.io/acme/*'], requireSignature: false, keys: [] },
      { name: 'acme', match: ['ghcr.io/acme/**', 'local/**'], requireSignature: false, keys: [] },
    ],
    unmatched: 'deny',
  });
  assert.equal(ruleFor(policy, 'ghcr.io/acme/tool')?.name, 'team');
  assert.equal(ruleFor(policy, 'ghcr.io/acme/sub/tool')?.name, 'acme', '* does not cross /');
  assert.equal(ruleFor(policy, 'local/default')?.name, 'acme');
  assert.throws(() => checkOrigin(policy, 'docker.io/library/alpine'), (err: Error) => err instanceof ImagePolicyRefusal && /docker.io\/library\/alpine is not allowed: no imagePolicy rule matches it and imagePolicy.unmatched is deny/.test(err.message));
  assert.equal(checkOrigin({ ...policy, unmatched: 'allow' }, 'docker.io/library/alpine'), undefined);
});

test('stored images: local origin, airlock and cosign signatures, bound to the right digest', { skip: storeSkip }, async (t) => {
  const { stateDir, digest } = await tinyStore(t);
  const keyFile = join(stateDir, 'ed.pem');
  await writeFile(keyFile, ed.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  const requiring = (match: string[], keys: { id: string; pem: string }[]) => configSchema.parse({ stateDir, imagePolicy: { rules: [{ name: 'must-sign', match, requireSignature: true, keys }] } });
  const byEd = requiring(['local/**'], [{ id: 'ed-key', pem: pem(ed) }]);
  const byEc = requiring(['local/**'], [{ id: 'ec-key', pem: pem(ec) }]);
  const image = await resolveImage(byEd, 'tiny');

  await assert.rejects(evaluateStoredImage(byEd, image), /image tiny \(sha256:[0-9a-f]{64}\) is refused by imagePolicy rule "must-sign", which requires a signature: it has no signature/);
  await assert.rejects(applyImagePolicy(byEd, image), ImagePolicyRefusal);
  // Without a policy nothing is read and nobody signed.
  assert.equal((await applyImagePolicy(configSchema.parse({ stateDir }), image)).signer, null);

  await signStoredImage(byEd, 'tiny', keyFile);
  assert.deepEqual(await evaluateStoredImage(byEd, image), { origin: 'local/tiny', rule: 'must-sign', signer: 'ed-key', signatureFormat: 'airlock' });
  assert.equal((await applyImagePolicy(byEd, image)).signer, 'ed-key');
  await assert.rejects(evaluateStoredImage(byEc, image), /none of its 1 signature\(s\) verifies with the rule's keys \(ec-key\)/);
  // Asked for by digest, the origin is local/<digest>: a rule for local/** covers it too.
  assert.equal((await evaluateStoredImage(byEd, await resolveImage(byEd, digest))).signer, 'ed-key');

  // A cosign signature is bound to the registry manifest digest recorded as the image's origin.
  const manifestDigest = `sha256:${'c'.repeat(64)}`;
  await saveOrigin(storePaths(byEc), digest, { origin: 'registry.example/team/tiny', reference: `registry.example/team/tiny@${manifestDigest}`, manifestDigest });
  const cosignFor = async (d: string) => {
    const payload = buildPayload('registry.example/team/tiny', d);
    await saveSignature(storePaths(byEc), digest, { format: 'cosign', payload: payload.toString('base64'), signature: signPayload(ec.privateKey, payload).toString('base64'), source: 'test' });
  };
  const remote = requiring(['registry.example/**'], [{ id: 'ec-key', pem: pem(ec) }]);
  await cosignFor(`sha256:${'d'.repeat(64)}`);
  await assert.rejects(evaluateStoredImage(remote, image), /none of its 2 signature\(s\) verifies/, 'a signature over another digest vouches for nothing');
  await cosignFor(manifestDigest);
  assert.deepEqual(await evaluateStoredImage(remote, image), { origin: 'registry.example/team/tiny', rule: 'must-sign', signer: 'ec-key', signatureFormat: 'cosign' });
  // The recorded origin replaces local/NAME: a local/** rule no longer covers the pulled image.
  const localOnly = configSchema.parse({ stateDir, imagePolicy: { rules: [{ name: 'local', match: ['local/**'], requireSignature: false, keys: [] }], unmatched: 'deny' } });
  await assert.rejects(evaluateStoredImage(localOnly, image), /registry.example\/team\/tiny is not allowed/);
});
