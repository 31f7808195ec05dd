/** The doctor's image-policy line: keys that load, and a default image the policy lets through. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configSchema } from '../../config/config.ts';
import { imagePolicyHealth } from './health.ts';
import { signStoredImage } from './sign.ts';
import { storeSkip, tinyStore } from './test-store.ts';

test('image policy health: no rules, a missing key file, an unsigned default image, then signed', { skip: storeSkip }, async (t) => {
  const { stateDir } = await tinyStore(t, 'tiny');
  assert.deepEqual(await imagePolicyHealth(configSchema.parse({ stateDir, defaultImage: 'tiny' })), { ok: true, detail: 'no rules: every image is allowed, unsigned (imagePolicy)' });

  const missing = await imagePolicyHealth(configSchema.parse({ stateDir, defaultImage: 'tiny', imagePolicy: { rules: [{ name: 'r', match: ['local/**'], requireSignature: true, keys: [{ id: 'k', file: '/nonexistent/k.pem' }] }] } }));
  assert.equal(missing.ok, false);
  assert.match(missing.detail, /trusted key k: cannot read \/nonexistent\/k.pem/);

  const pair = generateKeyPairSync('ed25519');
  const keyFile = join(stateDir, 'k.pem');
  await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  const config = configSchema.parse({ stateDir, defaultImage: 'tiny', imagePolicy: { rules: [{ name: 'r', match: ['local/**'], requireSignature: true, keys: [{ id: 'k', pem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string }] }] } });
  const unsigned = await imagePolicyHealth(config);
  assert.equal(unsigned.ok, false);
  assert.match(unsigned.detail, /imagePolicy rule "r".*sign it: airlock image sign tiny --key KEY/);
  await signStoredImage(config, 'tiny', keyFile);
  assert.deepEqual(await imagePolicyHealth(config), { ok: true, detail: '1 rule(s) (r signed), unmatched allow; default image tiny allowed, signed by k' });
});
