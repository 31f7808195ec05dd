/**
 * The forensics route: the admin action (an agent is refused), bad and unknown ids, an ended
 * sandbox, no controller key; an operator's capture writes a bundle that verifies against the
 * controller key. (A fake service: no host-side access, so the bundle says so; the real
 * capture of both runtimes is in test/security/forensics.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { unzipSync } from 'fflate';
import { createAccess } from '../../src/admission/access.ts';
import { buildApp } from '../../src/api/app.ts';
import { AuditLog } from '../../src/audit/log.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { verifyBundle } from '../../src/forensics/bundle.ts';
import { generateEd25519KeyPair } from '../../src/signing/keys.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { FakeService } from './fake-service.ts';
import { assertError } from './helpers.ts';
import { addKeyedPrincipal, send, tempStore, testConfig, type KeyedPrincipal, type Send } from '../admission/fixture.ts';

async function controller(t: TestContext, withAudit = true) {
  const store = await SqliteStore.open({ path: await tempStore(t) });
  t.after(() => store.close());
  const dir = await mkdtemp(join(tmpdir(), 'airlock-forensics-route-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keys = generateEd25519KeyPair();
  const log = new AuditLog({ store: store.audit, signingKey: keys.privateKey });
  const access = await createAccess({ config: testConfig(), store, audit: log });
  const service = new FakeService();
  const forensics = { stateDir: dir, forensics: { ...DEFAULT_CONFIG.forensics, dir: join(dir, 'bundles') } };
  const app = buildApp({ service, access, forensics, ...(withAudit ? { audit: { log, controllerKey: keys.privateKey } } : {}) });
  await app.ready();
  t.after(() => app.close());
  const people = { alice: await addKeyedPrincipal(store, 'alice', 'agent'), olga: await addKeyedPrincipal(store, 'olga', 'operator') };
  return { app, service, people, ...keys, send: (who: KeyedPrincipal, req: Send) => send(app, who, req) };
}

describe('POST /api/v1/sandboxes/{id}/forensics', () => {
  it('an operator captures a running sandbox: a bundle that verifies; then it is killed (forensics.after = kill)', async (t) => {
    const c = await controller(t);
    const info = await c.service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'alice' });
    const res = await c.send(c.people.olga, { method: 'POST', url: `/api/v1/sandboxes/${info.sandbox_id}/forensics` });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ path: string; after: string; frozen: string | null }>();
    assert.equal(body.after, 'kill');
    assert.equal(body.frozen, null, 'the fake runtime gives no host-side access, so nothing was frozen');
    const zip = await readFile(body.path);
    const check = verifyBundle(zip, c.publicKey);
    assert.ok(check.ok, check.ok ? '' : check.problems.join('; '));
    assert.ok(unzipSync(zip)['host.unavailable.txt'] !== undefined, 'the bundle says why it holds no processes or memory');
    assert.equal(c.service.get(info.sandbox_id).state, 'ended');
  });

  it('refuses an agent (admin action), a malformed id, an unknown or ended sandbox, and a server without a controller key', async (t) => {
    const c = await controller(t);
    const info = await c.service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'alice' });
    assertError(await c.send(c.people.alice, { method: 'POST', url: `/api/v1/sandboxes/${info.sandbox_id}/forensics` }), 403, 'forbidden');
    assertError(await c.send(c.people.olga, { method: 'POST', url: '/api/v1/sandboxes/not%20an%20id!/forensics' }), 400, 'invalid_request');
    assertError(await c.send(c.people.olga, { method: 'POST', url: '/api/v1/sandboxes/sb-unknown/forensics' }), 404, 'sandbox_not_found');
    await c.service.kill(info.sandbox_id);
    assertError(await c.send(c.people.olga, { method: 'POST', url: `/api/v1/sandboxes/${info.sandbox_id}/forensics` }), 409, 'sandbox_not_running');
    assertError(await c.send(c.people.olga, { method: 'GET', url: `/api/v1/sandboxes/${info.sandbox_id}/forensics` }), 405);
    const bare = await controller(t, false);
    const other = await bare.service.create({ runtime: 'namespace', limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'alice' });
    assertError(await bare.send(bare.people.olga, { method: 'POST', url: `/api/v1/sandboxes/${other.sandbox_id}/forensics` }), 503, 'audit_unavailable');
  });
});
