/**
 * The audit log behind the HTTP API, on a real SQLite store with the real admission path and the
 * shipped Cedar policies (the sandbox service is the fake one: sandboxes are not under test):
 * every decision recorded before it is answered, tenancy on queries and the events stream, receipts
 * that verify offline, proofs against signed heads, bad input on every audit route, and a store that
 * cannot be written refusing new sandboxes while /health says why.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { createAccess } from '../../src/admission/access.ts';
import { buildApp } from '../../src/api/app.ts';
import type { EventStreamOptions } from '../../src/api/routes/audit.ts';
import { AuditLog } from '../../src/audit/log.ts';
import { verifyConsistency, verifyInclusion } from '../../src/audit/merkle.ts';
import { verifyReceipt } from '../../src/audit/receipt.ts';
import { verifyTreeHead } from '../../src/audit/tree-head.ts';
import { generateEd25519KeyPair } from '../../src/signing/keys.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { FakeService } from '../api/fake-service.ts';
import { assertError } from '../api/helpers.ts';
import { addKeyedPrincipal, send, tempStore, testConfig, type ControllerOptions, type KeyedPrincipal, type Send } from '../admission/fixture.ts';

async function auditedController(t: TestContext, path: string, options: ControllerOptions = {}, events?: EventStreamOptions) {
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  const keys = generateEd25519KeyPair();
  const log = new AuditLog({ store: store.audit, signingKey: keys.privateKey });
  const access = await createAccess({ config: testConfig(options), store, audit: log });
  const service = new FakeService();
  const app: FastifyInstance = buildApp({ service, access, audit: { log, controllerKey: keys.privateKey, ...(events === undefined ? {} : { events }) } });
  await app.ready();
  t.after(() => app.close());
  return { store, log, app, service, ...keys };
}

async function cast(t: TestContext, events?: EventStreamOptions) {
  const c = await auditedController(t, await tempStore(t), {}, events);
  const people = {
    alice: await addKeyedPrincipal(c.store, 'alice', 'agent'),
    bob: await addKeyedPrincipal(c.store, 'bob', 'agent'),
    olga: await addKeyedPrincipal(c.store, 'olga', 'operator'),
  };
  return { ...c, people, send: (who: KeyedPrincipal | undefined, req: Send) => send(c.app, who, req) };
}

type Rec = { index: number; kind: string; agent_id: string | null; sandbox_id: string | null; data: Record<string, unknown>; actor: { name: string } | null };

describe('audit log over the API', () => {
  it('records every decision, allowed and refused, with the deciding step and policies; an agent reads only its own', async (t) => {
    const f = await cast(t);
    const created = await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().sandbox_id as string;
    const refused = await f.send(f.people.bob, { method: 'DELETE', url: `/api/v1/sandboxes/${id}` });
    assertError(refused, 403, 'forbidden');

    const all = await f.send(f.people.olga, { method: 'GET', url: '/api/v1/audit?kind=admission' });
    assert.equal(all.statusCode, 200, all.body);
    const records = all.json().records as Rec[];
    const allowed = records.find((r) => r.actor?.name === 'alice' && r.data['action'] === 'create');
    assert.equal(allowed?.data['outcome'], 'allowed');
    assert.match(String(allowed?.data['action_digest']), /^sha256:[0-9a-f]{64}$/);
    const denied = records.find((r) => r.actor?.name === 'bob');
    assert.deepEqual([denied?.data['outcome'], denied?.data['step'], denied?.data['code'], denied?.sandbox_id, denied?.agent_id], ['refused', 'authorize', 'forbidden', id, 'alice']);
    assert.ok((denied?.data['policy_ids'] as string[]).length > 0, 'the deciding policies are named');

    const asAlice = (await f.send(f.people.alice, { method: 'GET', url: '/api/v1/audit' })).json().records as Rec[];
    assert.ok(asAlice.length >= 2);
    assert.ok(asAlice.every((r) => r.agent_id === 'alice'), 'alice sees only her records (bob\'s refusal on her sandbox is hers)');
    const asBob = (await f.send(f.people.bob, { method: 'GET', url: '/api/v1/audit' })).json().records as Rec[];
    assert.ok(asBob.every((r) => r.agent_id === 'bob'));
    assertError(await f.send(f.people.bob, { method: 'GET', url: '/api/v1/audit?agent=alice' }), 403, 'forbidden');
    assert.equal((await f.log.verifyStored()).ok, true);
  });

  it('an execution result and an ended sandbox carry receipts that verify offline with the controller key', async (t) => {
    const f = await cast(t);
    const run = await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandbox/execute', payload: { agent_id: 'alice', command: ['echo', 'hi'] } });
    assert.equal(run.statusCode, 200, run.body);
    const receipt = run.json().receipt;
    assert.deepEqual(verifyReceipt(receipt, f.publicKey).ok, true);
    assert.equal(receipt.record.kind, 'execution.finished');
    assert.equal(receipt.record.data.policy_hash, run.json().policy_hash);
    assert.equal(verifyReceipt({ ...receipt, record: { ...receipt.record, data: { ...receipt.record.data, exit_code: 1 } } }, f.publicKey).ok, false);

    const created = await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    const id = created.json().sandbox_id as string;
    // The fake service reports no lifecycle events: record the end as the service observer would.
    const ended = await f.log.append({ kind: 'sandbox.ended', agentId: 'alice', sandboxId: id, data: { end_reason: 'killed' } });
    const killed = await f.send(f.people.alice, { method: 'DELETE', url: `/api/v1/sandboxes/${id}` });
    assert.equal(killed.statusCode, 200, killed.body);
    const sandboxReceipt = killed.json().receipt;
    assert.equal(sandboxReceipt.record.index, ended.index);
    assert.equal(verifyReceipt(sandboxReceipt, f.publicKey).ok, true);

    const byRoute = await f.send(f.people.alice, { method: 'GET', url: `/api/v1/audit/records/${ended.index}/receipt` });
    assert.equal(verifyReceipt(byRoute.json(), f.publicKey).ok, true);
    assertError(await f.send(f.people.bob, { method: 'GET', url: `/api/v1/audit/records/${ended.index}/receipt` }), 404, 'audit_record_not_found');
  });

  it('an exec in a persistent sandbox ends with a receipt, collected and streamed', async (t) => {
    const f = await cast(t);
    const id = (await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} })).json().sandbox_id as string;
    const collected = await f.send(f.people.alice, { method: 'POST', url: `/api/v1/sandboxes/${id}/exec?stream=false`, payload: { command: ['true'] } });
    assert.equal(collected.statusCode, 200, collected.body);
    assert.equal(collected.json().receipt.record.kind, 'exec.finished');
    assert.equal(collected.json().receipt.record.data.exec_id, collected.json().exec_id);
    assert.equal(verifyReceipt(collected.json().receipt, f.publicKey).ok, true);
    const streamed = await f.send(f.people.alice, { method: 'POST', url: `/api/v1/sandboxes/${id}/exec`, payload: { command: ['true'] } });
    const exit = JSON.parse(streamed.body.trim().split('\n').pop() as string);
    assert.equal(exit.type, 'exit');
    assert.equal(verifyReceipt(exit.receipt, f.publicKey).ok, true);
  });

  it('serves signed heads, inclusion proofs and consistency proofs that verify', async (t) => {
    const f = await cast(t);
    await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    const first = (await f.send(f.people.olga, { method: 'POST', url: '/api/v1/audit/heads' })).json();
    assert.ok(verifyTreeHead(first, f.publicKey));
    assertError(await f.send(f.people.alice, { method: 'POST', url: '/api/v1/audit/heads' }), 403, 'forbidden');
    for (let i = 0; i < 3; i++) await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    const second = (await f.send(f.people.olga, { method: 'POST', url: '/api/v1/audit/heads' })).json();
    assert.ok(second.tree_size > first.tree_size);
    const latest = (await f.send(f.people.alice, { method: 'GET', url: '/api/v1/audit/head' })).json();
    assert.ok(latest.tree_size >= second.tree_size);

    const proof = (await f.send(f.people.alice, { method: 'GET', url: `/api/v1/audit/proof/inclusion?index=1&tree_size=${second.tree_size}` })).json();
    assert.ok(verifyInclusion(1, second.tree_size, Buffer.from(proof.leaf_hash, 'hex'), proof.inclusion_proof.map((p: string) => Buffer.from(p, 'hex')), Buffer.from(second.root_hash, 'hex')));
    const consistency = (await f.send(f.people.alice, { method: 'GET', url: `/api/v1/audit/proof/consistency?first=${first.tree_size}&second=${second.tree_size}` })).json();
    assert.ok(verifyConsistency(first.tree_size, second.tree_size, Buffer.from(first.root_hash, 'hex'), Buffer.from(second.root_hash, 'hex'), consistency.consistency_proof.map((p: string) => Buffer.from(p, 'hex'))));
    const key = (await f.send(f.people.alice, { method: 'GET', url: '/api/v1/audit/key' })).json();
    assert.match(key.public_key_pem, /BEGIN PUBLIC KEY/);
  });

  it('answers bad input on every audit route with a clear 4xx', async (t) => {
    const f = await cast(t);
    await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    const bad: Array<[string, number, string]> = [
      ['/api/v1/audit?after=-1', 400, 'invalid_request'],
      ['/api/v1/audit?after=abc', 400, 'invalid_request'],
      ['/api/v1/audit?limit=0', 400, 'invalid_request'],
      ['/api/v1/audit?limit=5000', 400, 'invalid_request'],
      ['/api/v1/audit?kind=bogus', 400, 'invalid_request'],
      ['/api/v1/audit?agent=..%2F', 400, 'invalid_request'],
      ['/api/v1/audit?colour=red', 400, 'invalid_request'],
      ['/api/v1/audit/proof/inclusion', 400, 'invalid_request'],
      ['/api/v1/audit/proof/inclusion?index=x', 400, 'invalid_request'],
      ['/api/v1/audit/proof/inclusion?index=0&tree_size=0', 400, 'invalid_request'],
      ['/api/v1/audit/proof/inclusion?index=5&tree_size=2', 400, 'invalid_request'],
      ['/api/v1/audit/proof/inclusion?index=0&tree_size=99999', 400, 'invalid_request'],
      ['/api/v1/audit/proof/consistency?first=2', 400, 'invalid_request'],
      ['/api/v1/audit/proof/consistency?first=3&second=2', 400, 'invalid_request'],
      ['/api/v1/audit/proof/consistency?first=1&second=99999', 400, 'invalid_request'],
      ['/api/v1/audit/records/abc/receipt', 400, 'invalid_request'],
      ['/api/v1/audit/records/99999/receipt', 404, 'audit_record_not_found'],
      ['/api/v1/events?after=-3', 400, 'invalid_request'],
    ];
    for (const [url, status, code] of bad) assertError(await f.send(f.people.olga, { method: 'GET', url }), status, code);
    assertError(await f.send(f.people.olga, { method: 'GET', url: '/api/v1/events', headers: { 'last-event-id': 'yesterday' } }), 400, 'invalid_request');
    assertError(await f.send(undefined, { method: 'GET', url: '/api/v1/audit' }), 401, 'authentication_required');
  });

  it('streams records as they are appended, resumable from an index, with tenancy', async (t) => {
    const f = await cast(t);
    for (let i = 0; i < 3; i++) await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    await f.send(f.people.bob, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const address = f.app.addresses()[0] as { port: number };
    // The stream is read over a real connection (inject waits for the end of a body that never ends).
    const { signRequest } = await import('../../src/signing/sign.ts');
    const streams: AbortController[] = [];
    const open = async (who: KeyedPrincipal, path: string, extra: Record<string, string> = {}) => {
      const url = `http://localhost:${address.port}${path}`;
      const headers = { ...extra };
      const signed = signRequest({ request: { method: 'GET', targetUri: url, headers }, privateKey: who.privateKey, keyid: who.keyId });
      const controller = new AbortController();
      streams.push(controller);
      const res = await fetch(url, { headers: { ...headers, ...signed }, signal: controller.signal });
      const reader = res.body!.getReader();
      let text = '';
      const next = async (count: number): Promise<string[]> => {
        while (text.split('\n').filter(Boolean).length < count) {
          const { value, done } = await reader.read();
          if (done) break;
          text += Buffer.from(value).toString('utf8');
        }
        return text.split('\n').filter(Boolean);
      };
      return { res, next };
    };
    const olga = await open(f.people.olga, '/api/v1/events?after=1');
    assert.equal(olga.res.status, 200);
    const backlog = (await olga.next(2)).map((l) => JSON.parse(l) as Rec);
    assert.deepEqual(backlog.slice(0, 2).map((r) => r.index), [2, 3]);
    const alice = await open(f.people.alice, '/api/v1/events', { accept: 'text/event-stream', 'last-event-id': '0' });
    await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    await f.send(f.people.bob, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    const lines = await alice.next(9);
    const events = lines.filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as Rec);
    assert.ok(events.length >= 3, lines.join('\n'));
    assert.ok(events.every((r) => r.agent_id === 'alice' && r.index > 0));
    assert.ok(lines.some((l) => /^id: \d+$/.test(l)));
    // Backlog 2 and 3, then alice's and bob's new records.
    const seen = await olga.next(4);
    const indexes = seen.map((l) => (JSON.parse(l) as Rec).index);
    assert.deepEqual(indexes, [...new Set(indexes)].sort((a, b) => a - b), 'no record twice, in order');
    // Closed here: the app's close waits for open connections.
    for (const s of streams) s.abort();
  });

  it('keeps idle event streams alive and bounds the streams one principal holds open', async (t) => {
    const f = await cast(t, { heartbeatMs: 50, maxStreamsPerPrincipal: 2 });
    await f.app.listen({ host: '127.0.0.1', port: 0 });
    const address = f.app.addresses()[0] as { port: number };
    const { signRequest } = await import('../../src/signing/sign.ts');
    const open = async (who: KeyedPrincipal, accept = 'application/x-ndjson') => {
      const url = `http://localhost:${address.port}/api/v1/events`;
      const headers = { accept };
      const controller = new AbortController();
      const res = await fetch(url, { headers: { ...headers, ...signRequest({ request: { method: 'GET', targetUri: url, headers }, privateKey: who.privateKey, keyid: who.keyId }) }, signal: controller.signal });
      return { res, controller };
    };
    const first = await open(f.people.alice, 'text/event-stream');
    const second = await open(f.people.alice);
    assert.deepEqual([first.res.status, second.res.status], [200, 200]);
    const third = await open(f.people.alice);
    assert.equal(third.res.status, 429);
    assert.equal(((await third.res.json()) as { error: { code: string } }).error.code, 'capacity_exceeded');
    assert.equal(third.res.headers.get('retry-after'), '5');
    // Another principal is not held to alice's bound.
    const bobs = await open(f.people.bob);
    assert.equal(bobs.res.status, 200);
    // With nothing appended, keep-alives arrive: an SSE comment, an empty NDJSON line.
    const read = async (res: Response, until: (text: string) => boolean) => {
      const reader = res.body!.getReader();
      let text = '';
      while (!until(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString('utf8');
      }
      reader.releaseLock();
      return text;
    };
    assert.match(await read(first.res, (x) => x.includes(': keep-alive')), /^: keep-alive\n\n/m);
    assert.match(await read(bobs.res, (x) => x.includes('\n')), /^\n/);
    // Closing one frees its place.
    first.controller.abort();
    let again = await open(f.people.alice);
    for (let i = 0; again.res.status === 429 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 20));
      again = await open(f.people.alice);
    }
    assert.equal(again.res.status, 200);
    for (const s of [second, bobs, again]) s.controller.abort();
  });

  it('fail closed: with the store unwritable, new sandboxes are refused (503 audit_unavailable) and /health says why', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-audit-api-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      t.skip(`cannot mount a small tmpfs to fill: ${(err as Error).message}`);
      return;
    }
    // Unsigned loopback: a signed request writes its nonce to the same store and would fail first.
    const f = await auditedController(t, join(dir, 'store', 'airlock.db'), { auth: { unsignedLoopback: true } });
    t.after(async () => {
      await f.app.close();
      await f.store.close();
      execFileSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    });
    const post = () => f.app.inject({ method: 'POST', url: '/api/v1/sandboxes', headers: { host: 'localhost', 'content-type': 'application/json' }, payload: JSON.stringify({ metadata: { pad: 'x'.repeat(400) } }), remoteAddress: '127.0.0.1' });
    assert.equal((await post()).statusCode, 201);
    await writeFile(join(dir, 'filler'), Buffer.alloc(1024 * 1024)).catch(() => undefined);
    let refused = await post();
    // SQLite may still fit a record in a page it already has: append until the file system is really full.
    for (let i = 0; i < 200 && refused.statusCode === 201; i++) refused = await post();
    const error = assertError(refused, 503, 'audit_unavailable');
    assert.match(error.message, /full/i);
    const created = f.service.list().length;
    const again = await post();
    assertError(again, 503, 'audit_unavailable');
    assert.equal(f.service.list().length, created, 'no sandbox was created unrecorded');
    const health = (await f.app.inject({ method: 'GET', url: '/health', headers: { host: 'localhost' } })).json();
    assert.equal(health.status, 'degraded');
    assert.equal(health.audit.writable, false);
    assert.match(health.audit.reason, /full/i);
    await rm(join(dir, 'filler'));
    assert.equal((await post()).statusCode, 201, 'writable again: sandboxes start again');
    assert.equal((await f.app.inject({ method: 'GET', url: '/health', headers: { host: 'localhost' } })).json().audit.writable, true);
  });
});
