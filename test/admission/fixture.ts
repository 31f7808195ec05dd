/**
 * The admission tests' controller: a real SQLite store in a temp dir, principals with real Ed25519
 * keys, the shipped Cedar policies, the real authenticator and approval gate (createAccess), and the
 * HTTP app in front of the fake sandbox service (sandboxes are not what is under test). Requests are
 * signed the way clients sign them (src/signing/sign.ts) and sent with `app.inject()`.
 */
import type { KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Logger } from 'pino';
import { createAccess, type Access } from '../../src/admission/access.ts';
import { buildApp } from '../../src/api/app.ts';
import { DEFAULT_CONFIG, type AirlockConfig } from '../../src/config/config.ts';
import type { AuthConfig } from '../../src/config/auth-config.ts';
import type { PrincipalRole } from '../../src/policy/request.ts';
import { signRequest } from '../../src/signing/sign.ts';
import { generateEd25519KeyPair, keyId, publicKeyPem } from '../../src/signing/keys.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { FakeService } from '../api/fake-service.ts';

/** The Host every injected request carries (a default allowed name) and its signed target's origin. */
export const HOST = 'localhost';

/** A registered principal and its signing key. */
export interface KeyedPrincipal {
  name: string;
  role: PrincipalRole;
  agentId: string;
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** Registers `name` with a fresh Ed25519 key. */
export async function addKeyedPrincipal(store: SqliteStore, name: string, role: PrincipalRole, agentId: string = name): Promise<KeyedPrincipal> {
  const pair = generateEd25519KeyPair();
  await store.addPrincipal({ name, role, agentId, publicKeyPem: publicKeyPem(pair.publicKey) });
  return { name, role, agentId, keyId: keyId(pair.publicKey), ...pair };
}

/** One request to send. */
export interface Send {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  /** JSON body (serialized once: the signed bytes are the sent bytes). */
  payload?: unknown;
  /** A raw body sent as is (give its content-type in `headers`); instead of `payload`. */
  raw?: string;
  headers?: Record<string, string>;
  remoteAddress?: string;
}

/** How to sign (defaults: the way clients do). */
export interface SignTweaks {
  created?: number;
  nonce?: string;
  extraComponents?: string[];
  /** Change the request after signing (a tampering proxy). */
  tamper?: (request: { url: string; body: string | undefined; headers: Record<string, string> }) => void;
}

/** What a test controller's configuration changes from the built-in one. */
export interface ControllerOptions {
  auth?: Partial<AuthConfig>;
  hostRoots?: string[];
  /** approvals.ttlSeconds. */
  approvalTtlSeconds?: number;
  /** policy.dir: another Cedar bundle than the shipped one. */
  policyDir?: string;
}

/** The controller's configuration with `overrides` (auth merged). */
export function testConfig(overrides: ControllerOptions = {}): Pick<AirlockConfig, 'auth' | 'policy' | 'defaultImage' | 'approvals'> {
  return {
    ...DEFAULT_CONFIG,
    auth: { ...DEFAULT_CONFIG.auth, ...overrides.auth },
    policy: { ...DEFAULT_CONFIG.policy, hostRoots: overrides.hostRoots ?? [], dir: overrides.policyDir ?? DEFAULT_CONFIG.policy.dir },
    approvals: { ...DEFAULT_CONFIG.approvals, ...(overrides.approvalTtlSeconds === undefined ? {} : { ttlSeconds: overrides.approvalTtlSeconds }) },
  };
}

/** A temp dir removed after the test, and the store path inside it. */
export async function tempStore(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-admission-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'store', 'airlock.db');
}

/** A controller over `store`: access built the way `airlock serve` builds it, and the app. */
export async function controller(t: TestContext, store: SqliteStore, options: ControllerOptions & { logger?: Logger; service?: FakeService } = {}) {
  const config = testConfig(options);
  const access: Access = await createAccess({ config, store });
  const service = options.service ?? new FakeService();
  const app: FastifyInstance = buildApp({ service, access, ...(options.logger === undefined ? {} : { logger: options.logger }) });
  await app.ready();
  t.after(() => app.close());
  return { app, service, access };
}

/** Signs `req` as `who` (unless `who` is undefined) and injects it into `app`. */
export async function send(app: FastifyInstance, who: KeyedPrincipal | undefined, req: Send, tweaks: SignTweaks = {}): Promise<LightMyRequestResponse> {
  let body = req.raw ?? (req.payload === undefined ? undefined : JSON.stringify(req.payload));
  let url = req.url;
  const headers: Record<string, string> = { host: HOST, ...(req.payload === undefined ? {} : { 'content-type': 'application/json' }), ...req.headers };
  if (who !== undefined) {
    const signed = signRequest({
      request: { method: req.method, targetUri: `http://${HOST}${url}`, headers, body },
      privateKey: who.privateKey,
      keyid: who.keyId,
      ...(tweaks.created === undefined ? {} : { created: tweaks.created }),
      ...(tweaks.nonce === undefined ? {} : { nonce: tweaks.nonce }),
      ...(tweaks.extraComponents === undefined ? {} : { extraComponents: tweaks.extraComponents }),
    });
    Object.assign(headers, signed);
    const mutable = { url, body, headers };
    tweaks.tamper?.(mutable);
    ({ url, body } = mutable);
  }
  return app.inject({ method: req.method, url, headers, ...(body === undefined ? {} : { payload: body }), ...(req.remoteAddress === undefined ? {} : { remoteAddress: req.remoteAddress }) });
}

/** A fresh store with the usual cast: agents alice and bob, operator olga, approver petra. */
export async function castFixture(t: TestContext, options: ControllerOptions & { logger?: Logger } = {}) {
  const path = await tempStore(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  const people = {
    alice: await addKeyedPrincipal(store, 'alice', 'agent'),
    bob: await addKeyedPrincipal(store, 'bob', 'agent'),
    olga: await addKeyedPrincipal(store, 'olga', 'operator'),
    petra: await addKeyedPrincipal(store, 'petra', 'approver'),
  };
  const { app, service, access } = await controller(t, store, options);
  return { path, store, people, app, service, access, send: (who: KeyedPrincipal | undefined, req: Send, tweaks?: SignTweaks) => send(app, who, req, tweaks) };
}
