/**
 * A server for approval round trips: the real app (`buildApp`) with the real admission path
 * (`createAccess`, the default Cedar bundle, a real SQLite store in a temp dir) in front of the
 * in-memory FakeService, listening on 127.0.0.1. Two principals with real Ed25519 keys: the agent
 * `alice` and the approver `bob`; their private keys are also written to files (mode 0600) for CLI
 * tests. Requests are signed (the unsigned-loopback switch stays off, as in production).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createAccess } from '../../src/admission/access.ts';
import { buildApp } from '../../src/api/app.ts';
import { addPrincipal, type TestPrincipal } from '../../src/approvals/test-approvals.ts';
import { DEFAULT_CONFIG } from '../../src/config/config.ts';
import { privateKeyPem } from '../../src/signing/keys.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { tempStorePath } from '../../src/store/test-helpers.ts';
import { FakeService } from '../../test/api/fake-service.ts';
import { AirlockClient } from '../client.ts';
import { importSigningKey, type SigningKey } from '../signing.ts';

/** A principal of the test server: its registration, its SDK signer and its key file. */
export interface ServerPrincipal extends TestPrincipal {
  signer: SigningKey;
  keyFile: string;
  /** A client of the server signing as this principal. */
  client: AirlockClient;
}

/** The running server. */
export interface ApprovalServer {
  baseUrl: string;
  service: FakeService;
  store: SqliteStore;
  agent: ServerPrincipal;
  approver: ServerPrincipal;
}

async function principal(store: SqliteStore, dir: string, baseUrl: string, name: string, role: 'agent' | 'approver'): Promise<ServerPrincipal> {
  const registered = await addPrincipal(store, name, role);
  const pem = privateKeyPem(registered.privateKey);
  const keyFile = join(dir, `${name}.key`);
  await writeFile(keyFile, pem, { mode: 0o600 });
  const signer = await importSigningKey(pem);
  return { ...registered, signer, keyFile, client: new AirlockClient({ baseUrl, signer }) };
}

/** Options of {@link startApprovalServer}. */
export interface ApprovalServerOptions {
  /** How long an approval waits for a decision, seconds (default the configured 900). */
  approvalTtlSeconds?: number | undefined;
}

/** Starts the server for one test; it is closed (and its temp dir removed) after the test. */
export async function startApprovalServer(t: TestContext, options: ApprovalServerOptions = {}): Promise<ApprovalServer> {
  const { dir, path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  const approvals = { ttlSeconds: options.approvalTtlSeconds ?? DEFAULT_CONFIG.approvals.ttlSeconds };
  const access = await createAccess({ config: { ...DEFAULT_CONFIG, approvals }, store });
  const service = new FakeService();
  const app = buildApp({ service, access });
  const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  // Registered last, run first: the app stops before the store it uses is closed.
  t.after(() => store.close());
  t.after(() => app.close());
  return {
    baseUrl,
    service,
    store,
    agent: await principal(store, dir, baseUrl, 'alice', 'agent'),
    approver: await principal(store, dir, baseUrl, 'bob', 'approver'),
  };
}
