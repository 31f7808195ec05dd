/**
 * Persistent sandboxes carry the image's verified signer as one-shot results do: under an image
 * policy that requires a signature, a sandbox of the signed default image shows `image_signer` in
 * the create response, in GET and list, and in its `sandbox.created` audit record; without a policy
 * the signer is null. A real service (namespace runtime) behind the real app, on this test's own store.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLoopbackAccess } from '../../src/admission/loopback-access.ts';
import { buildApp } from '../../src/api/app.ts';
import type { AuditEvent } from '../../src/audit/record.ts';
import { auditObserver } from '../../src/audit/service-record.ts';
import type { AirlockConfig } from '../../src/config/config.ts';
import { signStoredImage } from '../../src/images/signatures/sign.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { isolatedConfig } from '../security/lib/isolated-config.ts';
import { removeIsolatedState } from '../security/lib/runtime.ts';
import { skipReason } from './environment.ts';

const base = isolatedConfig({ network: { poolSize: 0 } });
const skip = skipReason(base)('namespace');
const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const signedPolicy: AirlockConfig = {
  ...base,
  imagePolicy: {
    rules: [{ name: 'local-signed', match: ['local/**'], requireSignature: true, keys: [{ id: 'ops-key', pem: pair.publicKey.export({ type: 'spki', format: 'pem' }) as string }] }],
    unmatched: 'deny',
  },
};

/** A sandbox created over HTTP under `config`: the create, get and list answers and the audit records. */
async function createdSandbox(config: AirlockConfig): Promise<{ created: Record<string, unknown>; got: Record<string, unknown>; listed: Record<string, unknown>[]; events: AuditEvent[] }> {
  const events: AuditEvent[] = [];
  const access = await createLoopbackAccess({ config });
  const observer = auditObserver({
    // The records as the observer builds them; it never reads what append answers.
    audit: {
      append: async (event) => {
        events.push(event);
        return undefined as never;
      },
    },
    ownerOf: () => undefined,
    policyHash: () => service.policyHash,
    onError: (err) => assert.fail(String(err)),
  });
  const service = new SandboxService({ config, policyBundleHash: access.engine.hash, observer });
  await service.start();
  const app = buildApp({ service, access, closeService: true, limits: { defaults: config.defaults, maxima: config.maxima } });
  try {
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
      const json = (await res.json()) as Record<string, unknown>;
      assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    const created = await call('POST', '/api/v1/sandboxes', { agent_id: 'signer-test', runtime: 'namespace', ttl_seconds: 60 });
    const id = String(created['sandbox_id']);
    const got = await call('GET', `/api/v1/sandboxes/${id}`);
    const listed = (await call('GET', '/api/v1/sandboxes'))['sandboxes'] as Record<string, unknown>[];
    await call('DELETE', `/api/v1/sandboxes/${id}`);
    return { created, got, listed, events };
  } finally {
    await app.close();
  }
}

describe('persistent sandboxes carry image_signer', { skip }, () => {
  after(() => {
    assert.deepEqual(removeIsolatedState(base), []);
  });

  it('the signed image under a signature policy: the signer in create, get, list and sandbox.created', async () => {
    const keyFile = join(base.stateDir, 'ops-key.pem');
    await writeFile(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    await signStoredImage(signedPolicy, signedPolicy.defaultImage, keyFile);
    const { created, got, listed, events } = await createdSandbox(signedPolicy);
    assert.equal(created['image_signer'], 'ops-key');
    assert.equal(got['image_signer'], 'ops-key');
    assert.deepEqual(listed.map((s) => s['image_signer']), ['ops-key']);
    const record = events.find((e) => e.kind === 'sandbox.created');
    assert.ok(record !== undefined, 'a sandbox.created record was written');
    assert.equal(record.data['image_signer'], 'ops-key');
    assert.equal(record.data['image_digest'], created['image_digest']);
  });

  it('without a policy the signer is null, and said so', async () => {
    const { created, events } = await createdSandbox(base);
    assert.equal(created['image_signer'], null);
    assert.equal(events.find((e) => e.kind === 'sandbox.created')?.data['image_signer'], null);
  });
});
