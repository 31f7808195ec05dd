/**
 * The image step of admission on a real (tiny) store: an image the policy refuses is refused at
 * admission, step `image`, code `image_refused`, naming the rule; a signed one is admitted; and
 * createAccess wires the step only for a policy that can refuse.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configSchema } from '../config/config.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { SHIPPED_POLICY_DIR } from '../policy/bundle-files.ts';
import { DEFAULT_TEST_SPEC } from '../policy/test-spec.ts';
import { signStoredImage } from '../images/signatures/sign.ts';
import { storePaths } from '../images/paths.ts';
import { resolveImage } from '../images/store.ts';
import { writeTag } from '../images/tags.ts';
import { storeSkip, tinyStore } from '../images/signatures/test-store.ts';
import { createAccess } from './access.ts';
import type { AdmissionInput } from './admission.ts';
import type { Caller } from './caller.ts';
import { refusalOf } from './test-helpers.ts';

const ALICE: Caller = { name: 'alice', role: 'agent', agentId: 'alice', groups: [], via: 'signature' };

/** A configuration on `stateDir` whose image policy requires a signature by a new key, and that key's file. */
async function signedOnly(stateDir: string): Promise<{ config: ReturnType<typeof configSchema.parse>; keyFile: string }> {
  const pair = generateKeyPairSync('ed25519');
  const keyFile = join(stateDir, 'key.pem');
  await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  const config = configSchema.parse({
    stateDir,
    defaultImage: 'tiny',
    imagePolicy: { rules: [{ name: 'built-here-signed', match: ['local/**'], requireSignature: true, keys: [{ id: 'ops', pem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string }] }] },
  });
  return { config, keyFile };
}

test('admission refuses an image the image policy refuses, naming the rule; admits it once signed', { skip: storeSkip }, async (t) => {
  const { stateDir } = await tinyStore(t, 'tiny');
  const { config, keyFile } = await signedOnly(stateDir);
  const engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
  const { admission } = await createAccess({ config, engine });
  const spec = { ...DEFAULT_TEST_SPEC, image: 'tiny' };
  const input: AdmissionInput = { caller: ALICE, action: 'create', sandbox: { id: 'new', owner: 'alice', spec }, request: spec, parameters: { spec } };

  const refusal = await refusalOf(admission.admit(input));
  assert.equal(refusal.step, 'image');
  assert.equal(refusal.code, 'image_refused');
  assert.match(refusal.message, /imagePolicy rule "built-here-signed", which requires a signature: it has no signature/);
  // The same for a one-shot execution.
  assert.equal((await refusalOf(admission.admit({ ...input, action: 'execute' }))).code, 'image_refused');

  await signStoredImage(config, 'tiny', keyFile);
  const admitted = await admission.admit(input);
  assert.equal(admitted.admitted, true);

  // A policy that can refuse nothing adds no step: the same unsigned request on a fresh store is admitted.
  const other = await tinyStore(t, 'tiny');
  const { admission: open } = await createAccess({ config: configSchema.parse({ stateDir: other.stateDir, defaultImage: 'tiny' }), engine });
  assert.equal((await open.admit(input)).admitted, true);
});

test('admission judges the image the request resolved, not what its name tags by the time it decides', { skip: storeSkip }, async (t) => {
  const { stateDir } = await tinyStore(t, 'tiny');
  const { config, keyFile } = await signedOnly(stateDir);
  // The request resolved `tiny` while it tagged an unsigned image; the tag then moved to a signed one.
  const pinned = await resolveImage(config, 'tiny');
  const signed = await tinyStore(t, 'tiny-signed', stateDir);
  await signStoredImage(config, 'tiny-signed', keyFile);
  await writeTag(storePaths(config), 'tiny', signed.digest);
  const { admission } = await createAccess({ config, engine: await PolicyEngine.load(SHIPPED_POLICY_DIR) });
  const spec = { ...DEFAULT_TEST_SPEC, image: 'tiny' };
  const input: AdmissionInput = { caller: ALICE, action: 'execute', sandbox: { id: 'new', owner: 'alice', spec }, request: spec, parameters: { spec } };
  // The control: resolved by name now, the signed image is admitted.
  assert.equal((await admission.admit(input)).admitted, true);
  // Given the image the request resolved, that one is judged, and refused.
  const refusal = await refusalOf(admission.admit({ ...input, image: pinned }));
  assert.equal(refusal.code, 'image_refused');
  assert.match(refusal.message, /it has no signature/);
});
