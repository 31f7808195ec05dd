/**
 * Where the service resolves the image to run (imageFor), the image policy is applied to the
 * digest that will run: refused as `image_refused` naming the rule, or resolved with its signer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configSchema } from '../config/config.ts';
import { signStoredImage } from '../images/signatures/sign.ts';
import { storeSkip, tinyStore } from '../images/signatures/test-store.ts';
import { ServiceError } from './errors.ts';
import { imageFor } from './prepare.ts';

test('imageFor applies the image policy: image_refused naming the rule, then the signer once signed', { skip: storeSkip }, async (t) => {
  const { stateDir, digest } = await tinyStore(t, 'tiny');
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyFile = join(stateDir, 'key.pem');
  await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  const config = configSchema.parse({
    stateDir,
    imagePolicy: { rules: [{ name: 'ours', match: ['local/**'], requireSignature: true, keys: [{ id: 'ci', pem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string }] }] },
  });
  await assert.rejects(imageFor(config, 'tiny'), (err: unknown) => err instanceof ServiceError && err.code === 'image_refused' && /imagePolicy rule "ours"/.test(err.message));
  await signStoredImage(config, 'tiny', keyFile);
  const image = await imageFor(config, 'tiny');
  assert.equal(image.digest, digest);
  assert.equal(image.signer, 'ci');
  assert.equal((await imageFor(configSchema.parse({ stateDir }), 'tiny')).signer, null, 'no policy: no signer named');
  // A policy that can't be checked refuses (fail closed), saying why.
  const unreadable = configSchema.parse({ stateDir, imagePolicy: { rules: [{ name: 'ours', match: ['local/**'], requireSignature: true, keys: [{ id: 'gone', file: '/nonexistent/key.pem' }] }] } });
  await assert.rejects(imageFor(unreadable, 'tiny'), (err: unknown) => err instanceof ServiceError && err.code === 'image_refused' && /the image policy could not be checked: .*trusted key gone: cannot read/.test(err.message));
});
