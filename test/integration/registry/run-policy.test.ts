/**
 * The image policy on a real `airlock run` (namespace runtime, the host's default image in this
 * test's own store): an unsigned image is refused at admission naming the rule; once signed with
 * `airlock image sign`, it runs, and the result carries the image digest and the verified signer.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../../src/cli/test-cli.ts';
import { storePaths } from '../../../src/images/paths.ts';
import { readTag } from '../../../src/images/tags.ts';
import type { ExecutionResult } from '../../../src/sandbox/result.ts';
import { isolatedConfig, writeConfigFile } from '../../security/lib/isolated-config.ts';
import { removeIsolatedState } from '../../security/lib/runtime.ts';
import { skipReason } from '../environment.ts';

const base = isolatedConfig();
const skip = skipReason(base)('namespace');
const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const config = {
  ...base,
  imagePolicy: {
    rules: [{ name: 'local-signed', match: ['local/**'], requireSignature: true, keys: [{ id: 'ops-key', pem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string }] }],
    unmatched: 'deny' as const,
  },
};

describe('airlock run under an image policy that requires signatures', { skip }, () => {
  after(() => {
    assert.deepEqual(removeIsolatedState(base), []);
  });

  it('refuses the unsigned image at admission, runs it once signed, and reports digest and signer', async () => {
    const file = writeConfigFile(config);
    const refused = await runCli(['run', '--json', '--', 'true'], { config: file, timeoutMs: 60_000 });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /refused \(image_refused\): .*imagePolicy rule "local-signed", which requires a signature: it has no signature/);

    const keyFile = join(config.stateDir, 'ops-key.pem');
    await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    const signed = await runCli(['image', 'sign', config.defaultImage, '--key', keyFile], { config: file });
    assert.equal(signed.code, 0, signed.stderr);

    const ran = await runCli(['run', '--json', '--', 'echo', 'signed image'], { config: file, timeoutMs: 60_000 });
    assert.equal(ran.code, 0, ran.stderr);
    const result = JSON.parse(ran.stdout) as ExecutionResult;
    assert.equal(result.output, 'signed image');
    assert.equal(result.image_digest, readTag(storePaths(config), config.defaultImage));
    assert.equal(result.image_signer, 'ops-key');
  });

  it('without a policy the result names the digest and no signer', async () => {
    const file = writeConfigFile(base);
    const ran = await runCli(['run', '--json', '--', 'true'], { config: file, timeoutMs: 60_000 });
    assert.equal(ran.code, 0, ran.stderr);
    const result = JSON.parse(ran.stdout) as ExecutionResult;
    assert.equal(result.image_digest, readTag(storePaths(base), base.defaultImage));
    assert.equal(result.image_signer, null);
    assert.equal(result.accelerator, null, 'no VM ran');
  });
});
