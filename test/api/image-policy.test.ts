/**
 * The image policy through HTTP: creating a sandbox or running a one-shot on an image whose
 * required signature is missing is 403 image_refused naming the rule, and nothing reaches the
 * service; once the image is signed the same requests go through.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createAccess } from '../../src/admission/access.ts';
import { buildApp } from '../../src/api/app.ts';
import { configSchema } from '../../src/config/config.ts';
import { signStoredImage } from '../../src/images/signatures/sign.ts';
import { storeSkip, tinyStore } from '../../src/images/signatures/test-store.ts';
import { send, testConfig } from '../admission/fixture.ts';
import { FakeService } from './fake-service.ts';
import { assertError } from './helpers.ts';

test('POST sandboxes and execute: 403 image_refused naming the rule until the image is signed', { skip: storeSkip }, async (t) => {
  const { stateDir } = await tinyStore(t, 'tiny');
  const pair = generateKeyPairSync('ed25519');
  const keyFile = join(stateDir, 'key.pem');
  await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  const { imagePolicy } = configSchema.parse({
    imagePolicy: { rules: [{ name: 'signed-images', match: ['local/**'], requireSignature: true, keys: [{ id: 'release', pem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string }] }] },
  });
  const config = { ...testConfig({ auth: { unsignedLoopback: true, unsignedLoopbackAs: { name: 'dev', role: 'agent', groups: [] } } }), stateDir, defaultImage: 'tiny', imagePolicy };
  const service = new FakeService();
  const app = buildApp({ service, access: await createAccess({ config }) });
  t.after(() => app.close());
  const create = { method: 'POST' as const, url: '/api/v1/sandboxes', payload: {} };
  const execute = { method: 'POST' as const, url: '/api/v1/sandbox/execute', payload: { command: ['true'], agent_id: 'dev' } };

  for (const req of [create, execute]) {
    const error = assertError(await send(app, undefined, req), 403, 'image_refused');
    assert.match(error.message, /imagePolicy rule "signed-images", which requires a signature: it has no signature/);
  }
  assert.deepEqual([service.created.length, service.executed.length], [0, 0]);

  await signStoredImage({ stateDir }, 'tiny', keyFile);
  assert.equal((await send(app, undefined, create)).statusCode, 201);
  assert.equal((await send(app, undefined, execute)).statusCode, 200);
});
