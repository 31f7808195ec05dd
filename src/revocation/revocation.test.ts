import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { PolicyEngine } from '../policy/engine.ts';
import { SHIPPED_POLICY_DIR } from '../policy/bundle-files.ts';
import { DEFAULT_TEST_SPEC } from '../policy/test-spec.ts';
import { Admission } from '../admission/admission.ts';
import type { Caller } from '../admission/caller.ts';
import { refusalOf } from '../admission/test-helpers.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import { freshKey, tempStorePath } from '../store/test-helpers.ts';
import { StoreError } from '../store/errors.ts';
import type { AuditEvent } from '../audit/record.ts';
import type { SecurityViolation } from '../sandbox/result.ts';
import { autoRevoker } from './auto-revoke.ts';
import { lateStartCheck } from './open.ts';
import { Revoker, type AgentEnded } from './revoker.ts';
import { ListRefusal, type SignedRevocationList } from './signed-list.ts';

const OPERATOR = { name: 'root', role: 'operator', agent_id: 'root' };
const NONE: AgentEnded = { sandboxes: [], executions: [] };

async function openStore(t: TestContext): Promise<SqliteStore> {
  const { path } = await tempStorePath(t);
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  return store;
}

/** A revoker on a fresh store that records what it ended and appended. */
async function revokerFixture(t: TestContext, options: { now?: () => number; trusted?: ReturnType<typeof freshKey>[] } = {}) {
  const store = await openStore(t);
  const key = freshKey();
  const ended: string[] = [];
  const events: AuditEvent[] = [];
  const revoker = new Revoker({
    store: store.revocations,
    endAgent: async (agentId) => {
      ended.push(agentId);
      return { sandboxes: [`s-${agentId}`], executions: [] };
    },
    audit: { append: async (e) => events.push(e) },
    controllerKey: key.privateKey,
    trustedKeys: (options.trusted ?? []).map((k) => k.publicKey),
    maxListAgeMs: 3_600_000,
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return { store, key, revoker, ended, events };
}

async function listRefusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ListRefusal || err instanceof StoreError) return err.code;
    throw err;
  }
  assert.fail('expected the list to be refused');
}

describe('revocation store', () => {
  it('revokes once, unrevokes, and moves the sequence on with each change', async (t) => {
    const { revocations } = await openStore(t);
    assert.equal(await revocations.sequence(), 0);
    const first = await revocations.revoke({ agentId: 'alice', reason: 'leaked key', revokedBy: 'root', revokedAtMs: 1000 });
    assert.deepEqual(first, { agentId: 'alice', reason: 'leaked key', revokedBy: 'root', revokedAtMs: 1000, source: 'local' });
    assert.equal(await revocations.revoke({ agentId: 'alice', reason: 'again', revokedBy: 'root', revokedAtMs: 2000 }), undefined);
    assert.equal((await revocations.get('alice'))?.reason, 'leaked key');
    assert.equal(await revocations.sequence(), 1);
    assert.equal(await revocations.unrevoke('alice'), true);
    assert.equal(await revocations.unrevoke('alice'), false);
    assert.equal(await revocations.get('alice'), undefined);
    assert.equal(await revocations.sequence(), 2);
  });
});

describe('revoker', () => {
  it('stores, ends the agent’s sandboxes and records revoke and unrevoke', async (t) => {
    const { revoker, ended, events } = await revokerFixture(t);
    const done = await revoker.revoke('alice', 'exfiltration', OPERATOR);
    assert.deepEqual([done.created, done.ended.sandboxes, ended], [true, ['s-alice'], ['alice']]);
    // Revoking again still ends what may have started in between; the first reason stands.
    const again = await revoker.revoke('alice', 'other', OPERATOR);
    assert.deepEqual([again.created, again.revocation.reason, ended.length], [false, 'exfiltration', 2]);
    assert.equal(await revoker.unrevoke('alice', OPERATOR), true);
    assert.deepEqual(events.map((e) => [e.kind, e.agentId]), [['agent.revoked', 'alice'], ['agent.revoked', 'alice'], ['agent.unrevoked', 'alice']]);
    assert.deepEqual(events[0]?.data['sandboxes_ended'], ['s-alice']);
  });
});

describe('signed revocation lists', () => {
  it('exports signed; another controller that trusts the key imports it and ends the newly revoked agents', async (t) => {
    let now = Date.parse('2026-12-06T12:00:00Z');
    const issuer = await revokerFixture(t, { now: () => now });
    await issuer.revoker.revoke('alice', 'leaked key', OPERATOR);
    await issuer.revoker.revoke('bob', 'abuse', OPERATOR);
    const list = await issuer.revoker.exportList();
    assert.deepEqual([list.list.sequence, list.list.revocations.map((r) => r.agent_id)], [2, ['alice', 'bob']]);

    const importer = await revokerFixture(t, { now: () => now, trusted: [issuer.key] });
    const applied = await importer.revoker.importList(list, OPERATOR);
    assert.deepEqual([applied.added, applied.removed, importer.ended], [['alice', 'bob'], [], ['alice', 'bob']]);
    assert.equal((await importer.revoker.revoked('alice'))?.source, issuer.key.id);
    assert.equal(importer.events.at(-1)?.kind, 'revocations.imported');

    // The same list again, or an older one, is stale: it could undo a newer change.
    assert.equal(await listRefusal(importer.revoker.importList(list, OPERATOR)), 'stale_list');
    // A newer list that no longer names bob lifts what that issuer had revoked.
    await issuer.revoker.unrevoke('bob', OPERATOR);
    now += 1000;
    const newer = await importer.revoker.importList(await issuer.revoker.exportList(), OPERATOR);
    assert.deepEqual([newer.added, newer.removed], [[], ['bob']]);
  });

  it('refuses a tampered copy, an untrusted issuer, an old list and a malformed one; nothing is applied', async (t) => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    const issuer = await revokerFixture(t, { now: () => now });
    await issuer.revoker.revoke('alice', 'leaked key', OPERATOR);
    const list = await issuer.revoker.exportList();
    const importer = await revokerFixture(t, { now: () => now, trusted: [issuer.key] });
    const copy = (): SignedRevocationList => structuredClone(list);

    const dropped = copy();
    dropped.list.revocations = [];
    assert.equal(await listRefusal(importer.revoker.importList(dropped, OPERATOR)), 'bad_signature');
    const renumbered = copy();
    renumbered.list.sequence = 99;
    assert.equal(await listRefusal(importer.revoker.importList(renumbered, OPERATOR)), 'bad_signature');
    const flipped = copy();
    const sig = Buffer.from(flipped.signature, 'base64');
    sig[0] = (sig[0] ?? 0) ^ 1;
    flipped.signature = sig.toString('base64');
    assert.equal(await listRefusal(importer.revoker.importList(flipped, OPERATOR)), 'bad_signature');

    // Signed by a key the importer does not trust (a forger's own controller key).
    const forger = await revokerFixture(t, { now: () => now });
    await forger.revoker.revoke('operator-x', 'lockout', OPERATOR);
    assert.equal(await listRefusal(importer.revoker.importList(await forger.revoker.exportList(), OPERATOR)), 'untrusted_issuer');
    // A forger who claims the trusted issuer's id still cannot sign for it.
    const claimed = await forger.revoker.exportList();
    claimed.list.issuer = issuer.key.id;
    assert.equal(await listRefusal(importer.revoker.importList(claimed, OPERATOR)), 'bad_signature');

    const late = await revokerFixture(t, { now: () => now + 2 * 3_600_000, trusted: [issuer.key] });
    assert.equal(await listRefusal(late.revoker.importList(list, OPERATOR)), 'stale_list');
    const early = await revokerFixture(t, { now: () => now - 3_600_000, trusted: [issuer.key] });
    assert.equal(await listRefusal(early.revoker.importList(list, OPERATOR)), 'stale_list');

    for (const bad of [null, {}, { list: { ...list.list, format: 'other' }, signature: list.signature }, { ...list, extra: 1 }]) {
      assert.equal(await listRefusal(importer.revoker.importList(bad, OPERATOR)), 'invalid_list');
    }
    assert.deepEqual([await importer.revoker.list(), importer.ended], [[], []]);
    // The genuine list still applies after all that.
    assert.deepEqual((await importer.revoker.importList(list, OPERATOR)).added, ['alice']);
  });
});

describe('revocation at admission', () => {
  const agent: Caller = { name: 'alice', role: 'agent', agentId: 'alice', groups: [], via: 'signature' };
  const operator: Caller = { name: 'root', role: 'operator', agentId: 'root', groups: [], via: 'signature' };

  it('refuses every request of a revoked agent at the revocation step, and a new sandbox for it', async (t) => {
    const { store, revoker } = await revokerFixture(t);
    const engine = await PolicyEngine.load(SHIPPED_POLICY_DIR);
    const recorded: AuditEvent[] = [];
    const admission = new Admission({ engine, settings: { defaultImage: 'default', hostRoots: [] }, revocations: revoker, audit: { append: async (e) => recorded.push(e) } });
    const create = (caller: Caller, owner: string) => ({ caller, action: 'create' as const, sandbox: { id: 'new', owner, spec: DEFAULT_TEST_SPEC }, request: DEFAULT_TEST_SPEC, parameters: {} });
    assert.ok((await admission.admit(create(agent, 'alice'))).admitted);
    await revoker.revoke('alice', 'leaked key', { name: 'root', role: 'operator', agent_id: 'root' });
    const refusal = await refusalOf(admission.admit(create(agent, 'alice')));
    assert.deepEqual([refusal.step, refusal.code], ['revocation', 'agent_revoked']);
    assert.match(refusal.message, /agent alice is revoked since .*: leaked key/);
    assert.equal((await refusalOf(admission.admit({ caller: agent, action: 'execute', sandbox: { id: 'new', owner: 'alice', spec: DEFAULT_TEST_SPEC }, request: DEFAULT_TEST_SPEC, parameters: {} }))).code, 'agent_revoked');
    // An operator may not start one on the revoked agent's behalf either; for others it may.
    assert.equal((await refusalOf(admission.admit(create(operator, 'alice')))).code, 'agent_revoked');
    assert.ok((await admission.admit(create(operator, 'bob'))).admitted);
    assert.deepEqual(recorded.filter((e) => e.data['outcome'] === 'refused').map((e) => e.data['step']), ['revocation', 'revocation', 'revocation']);
    await store.revocations.unrevoke('alice');
    assert.ok((await admission.admit(create(agent, 'alice'))).admitted);
  });
});

describe('a sandbox that finishes starting after its owner was revoked', () => {
  it('is ended as soon as it is reported created; others are left alone', async (t) => {
    const { revoker, ended } = await revokerFixture(t);
    await revoker.revoke('alice', 'leaked key', OPERATOR);
    const late: string[] = [];
    const check = lateStartCheck(revoker, async (agentId) => late.push(agentId), (err) => assert.fail(String(err)));
    check.sandboxCreated({ owner: 'alice' });
    check.sandboxCreated({ owner: 'bob' });
    check.sandboxCreated({ owner: '' });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([late, ended], [['alice'], ['alice']]);
  });

  it('a one-shot registered after the revocation is ended too (it was admitted just before)', async (t) => {
    const { revoker } = await revokerFixture(t);
    await revoker.revoke('alice', 'leaked key', OPERATOR);
    const late: string[] = [];
    const check = lateStartCheck(revoker, async (agentId) => late.push(agentId), (err) => assert.fail(String(err)));
    check.executionStarted({ agentId: 'alice' });
    check.executionStarted({ agentId: 'bob' });
    check.executionStarted({ agentId: '' });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(late, ['alice']);
  });
});

describe('automatic revocation', () => {
  const violation = (severity: SecurityViolation['severity'], sandboxId = 's-1'): SecurityViolation => ({
    violation_id: 'v', timestamp: '', violation_type: 'egress_denied', severity, description: '', detection_layer: 'NETWORK', blocked: true, indicators: { sandbox_id: sandboxId }, remediation: '',
  });

  it('revokes after N HIGH or CRITICAL violations within the window, ignoring lower ones and old ones', async () => {
    let now = 0;
    const revoked: [string, string][] = [];
    const hook = autoRevoker({
      revoker: { revoke: async (agentId, reason) => (revoked.push([agentId, reason]), { revocation: { agentId, reason, revokedBy: 'controller', revokedAtMs: now, source: 'local' }, created: true, ended: NONE }) },
      violations: 3, windowSeconds: 60, ownerOf: (id) => (id === 's-1' ? 'alice' : undefined), onError: (err) => assert.fail(String(err)), now: () => now,
    });
    hook.violationRecorded(violation('HIGH'));
    hook.violationRecorded(violation('MEDIUM'));
    hook.violationRecorded(violation('LOW'));
    hook.violationRecorded(violation('CRITICAL', 's-unowned'));
    now = 61_000;
    hook.violationRecorded(violation('CRITICAL'));
    hook.violationRecorded(violation('HIGH'));
    await Promise.resolve();
    assert.equal(revoked.length, 0, 'the first HIGH is out of the window');
    hook.violationRecorded(violation('CRITICAL'));
    await Promise.resolve();
    assert.equal(revoked.length, 1);
    assert.equal(revoked[0]?.[0], 'alice');
    assert.match(revoked[0]?.[1] ?? '', /^automatic: 3 HIGH or CRITICAL violations within 60s/);
  });

  it('is off at 0', () => {
    const hook = autoRevoker({ revoker: { revoke: () => assert.fail('revoked') }, violations: 0, windowSeconds: 60, ownerOf: () => 'alice', onError: () => undefined });
    for (let i = 0; i < 5; i++) hook.violationRecorded(violation('CRITICAL'));
  });
});
