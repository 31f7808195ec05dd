/** Helpers of the approval tests: a real store in a temp dir, principals with real Ed25519 keys, a settable clock. */
import { randomBytes, type KeyObject } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { Caller } from '../admission/caller.ts';
import type { PrincipalRole } from '../policy/request.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { freshKey, tempStorePath } from '../store/test-helpers.ts';
import type { SignedDecision } from './decision-input.ts';
import { signDecision } from './decision-signature.ts';
import type { Decision } from './digest.ts';
import { StoreApprovalGate } from './gate.ts';

/** A registered principal: its caller and its signing key. */
export interface TestPrincipal {
  caller: Caller;
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A clock the test moves. */
export class TestClock {
  ms = Date.UTC(2026, 11, 6, 10, 0, 0);
  readonly now = () => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/** Registers `name` with a fresh key in `store`. */
export async function addPrincipal(store: SqliteStore, name: string, role: PrincipalRole, agentId: string = name, groups: readonly string[] = []): Promise<TestPrincipal> {
  const key = freshKey();
  await store.addPrincipal({ name, role, agentId, groups, publicKeyPem: key.pem });
  return { caller: { name, role, agentId, groups: [...groups], via: 'signature', keyId: key.id }, keyId: key.id, privateKey: key.privateKey, publicKey: key.publicKey };
}

/** A store in a temp dir with the usual cast, and a gate on it with a test clock. */
export async function approvalFixture(t: TestContext, ttlSeconds = 900) {
  const { path } = await tempStorePath(t);
  const clock = new TestClock();
  const store = await SqliteStore.open({ path, now: clock.now });
  t.after(() => store.close());
  const gate = new StoreApprovalGate({ store, ttlSeconds, now: clock.now });
  const people = {
    alice: await addPrincipal(store, 'alice', 'agent'),
    mallory: await addPrincipal(store, 'mallory', 'agent'),
    bob: await addPrincipal(store, 'bob', 'approver'),
    olga: await addPrincipal(store, 'olga', 'operator'),
    // An approver of alice's own tenant.
    alicia: await addPrincipal(store, 'alicia', 'approver', 'alice'),
  };
  return { path, clock, store, gate, people };
}

/** A fresh random nonce. */
export function nonce(): string {
  return randomBytes(16).toString('base64url');
}

/** A decision on `approvalId` for `digest` signed by `signer`, expiring `expiresInSeconds` after `nowMs`. */
export function signedDecision(signer: TestPrincipal, approvalId: string, digest: string, decision: Decision, nowMs: number, expiresInSeconds = 300): SignedDecision {
  const fields = { action_digest: digest, decision, nonce: nonce(), expires_at: new Date(nowMs + expiresInSeconds * 1000).toISOString() };
  return { ...fields, key_id: signer.keyId, signature: signDecision(signer.privateKey, { approval_id: approvalId, ...fields }) };
}
