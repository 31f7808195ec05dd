/**
 * Tenancy through the real admission path and the shipped Cedar policies: an agent sees and acts on
 * only its own sandboxes and one-shots, on every route; an operator on all; a refusal leaks nothing
 * of the other tenant; an agent can't create or run on another agent's behalf.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { assertError } from '../api/helpers.ts';
import { castFixture, type KeyedPrincipal, type Send } from './fixture.ts';

const SECRET_META = 'alice-private-note-7f3a';

/** Every route that acts on one sandbox, as `id`'s routes. */
function sandboxRoutes(id: string): Array<{ what: string; req: Send }> {
  const base = `/api/v1/sandboxes/${id}`;
  return [
    { what: 'get', req: { method: 'GET', url: base } },
    { what: 'network get', req: { method: 'GET', url: `${base}/network` } },
    { what: 'network put', req: { method: 'PUT', url: `${base}/network`, payload: { allowed_hosts: ['example.com'] } } },
    { what: 'exec', req: { method: 'POST', url: `${base}/exec?stream=false`, payload: { command: ['true'] } } },
    { what: 'files read', req: { method: 'GET', url: `${base}/files?path=/tmp/notes.txt` } },
    { what: 'files list', req: { method: 'GET', url: `${base}/files/list?path=/tmp` } },
    { what: 'files write', req: { method: 'PUT', url: `${base}/files?path=/tmp/notes.txt`, raw: 'overwritten', headers: { 'content-type': 'application/octet-stream' } } },
    { what: 'timeout', req: { method: 'POST', url: `${base}/timeout`, payload: { ttl_seconds: 5 } } },
    { what: 'delete', req: { method: 'DELETE', url: base } },
  ];
}

/** A 403 from policy: names what decided, and holds nothing of the sandbox it was about. */
function assertForbiddenClean(res: LightMyRequestResponse, what: string): void {
  const error = assertError(res, 403, 'forbidden');
  // Every refusal of the default policy names the forbid that decided (tenancy, approvers-decide-only…).
  assert.match(error.message, /^denied by policy: .*\([a-z0-9-]+(, [a-z0-9-]+)*\)$/, `${what}: ${error.message}`);
  for (const leak of ['alice', SECRET_META, 'owner', 'metadata', 'notes.txt', 'restricted']) assert.ok(!res.body.includes(leak), `${what}: the refusal mentions "${leak}": ${res.body}`);
}

async function aliceSandbox(f: Awaited<ReturnType<typeof castFixture>>): Promise<string> {
  const res = await f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: { metadata: { note: SECRET_META }, network_policy: 'restricted', allowed_hosts: ['pypi.org'] } });
  assert.equal(res.statusCode, 201, res.body);
  const id = res.json().sandbox_id as string;
  f.service.files.set(`${id}:/tmp/notes.txt`, Buffer.from('alice data'));
  return id;
}

async function visibleIds(f: Awaited<ReturnType<typeof castFixture>>, who: KeyedPrincipal) {
  const list = (await f.send(who, { method: 'GET', url: '/api/v1/sandboxes' })).json();
  const status = (await f.send(who, { method: 'GET', url: '/api/v1/sandbox/status' })).json();
  assert.equal(list.total_count, list.sandboxes.length);
  assert.equal(status.total_count, status.active_sandboxes.length);
  return { list: list.sandboxes.map((s: { sandbox_id: string }) => s.sandbox_id).sort(), status: status.active_sandboxes.map((s: { execution_id: string }) => s.execution_id).sort() };
}

describe('tenancy', () => {
  it("another agent is refused 403 on every route of a sandbox, and nothing changes", async (t) => {
    const f = await castFixture(t);
    const id = await aliceSandbox(f);
    const state = () => JSON.stringify({ ...f.service.get(id), security_violations: [] });
    const before = state();
    for (const { what, req } of sandboxRoutes(id)) assertForbiddenClean(await f.send(f.people.bob, req), what);
    assert.equal(state(), before, 'the sandbox is unchanged');
    // What is recorded is the attempt: one HIGH POLICY violation per refused request, on alice's sandbox, naming bob.
    const attempts = f.service.get(id).security_violations;
    assert.equal(attempts.length, sandboxRoutes(id).length);
    assert.ok(attempts.every((v) => v.violation_type === 'cross_tenant_attempt' && v.severity === 'HIGH' && v.detection_layer === 'POLICY' && v.indicators['caller'] === 'bob'), JSON.stringify(attempts[0]));
    assert.equal(f.service.files.get(`${id}:/tmp/notes.txt`)?.toString(), 'alice data');
    assert.equal(f.service.execs.length, 0);
    // An approver is no agent of this tenant either: it decides approvals, nothing else.
    for (const { what, req } of sandboxRoutes(id)) assertForbiddenClean(await f.send(f.people.petra, req), `approver ${what}`);
  });

  it('the owner, and an operator, may do all of it', async (t) => {
    const f = await castFixture(t);
    for (const who of [f.people.alice, f.people.olga]) {
      const id = await aliceSandbox(f);
      for (const { what, req } of sandboxRoutes(id)) {
        const res = await f.send(who, req);
        assert.ok(res.statusCode === 200, `${who.name} ${what}: ${res.statusCode} ${res.body}`);
      }
      assert.equal(f.service.get(id).state, 'ended');
    }
    assert.equal(f.service.execs.length, 2);
  });

  it("lists and status show an agent only its own sandboxes; the operator sees all", async (t) => {
    const f = await castFixture(t);
    const a = await aliceSandbox(f);
    const b = (await f.send(f.people.bob, { method: 'POST', url: '/api/v1/sandboxes', payload: {} })).json().sandbox_id as string;
    assert.deepEqual(await visibleIds(f, f.people.alice), { list: [a], status: [a] });
    assert.deepEqual(await visibleIds(f, f.people.bob), { list: [b], status: [b] });
    assert.deepEqual(await visibleIds(f, f.people.olga), { list: [a, b].sort(), status: [a, b].sort() });
    assert.deepEqual(await visibleIds(f, f.people.petra), { list: [], status: [] });
    const asBob = await f.send(f.people.bob, { method: 'GET', url: '/api/v1/sandboxes' });
    assert.ok(!asBob.body.includes(SECRET_META));
  });

  it("a running one-shot is shown and cancellable only for its owner and the operator", async (t) => {
    const f = await castFixture(t);
    f.service.executeHangs = true;
    const running = f.send(f.people.alice, { method: 'POST', url: '/api/v1/sandbox/execute', payload: { code: 'print(1)', language: 'python', agent_id: 'alice' } });
    let executionId: string | undefined;
    for (let i = 0; i < 200 && executionId === undefined; i += 1) {
      executionId = (await visibleIds(f, f.people.alice)).status[0];
      if (executionId === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(executionId !== undefined, "alice's one-shot shows in her status");
    assert.deepEqual((await visibleIds(f, f.people.bob)).status, []);
    assert.deepEqual((await visibleIds(f, f.people.olga)).status, [executionId]);
    assertForbiddenClean(await f.send(f.people.bob, { method: 'DELETE', url: `/api/v1/sandbox/executions/${executionId}` }), 'cancel');
    assert.deepEqual(f.service.cancelledExecutions, []);
    assert.equal((await f.send(f.people.olga, { method: 'DELETE', url: `/api/v1/sandbox/executions/${executionId}` })).statusCode, 200);
    const done = await running;
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().termination_reason, 'killed');
  });

  it("a sandbox's running commands are listed and killed only for its owner and the operator", async (t) => {
    const f = await castFixture(t);
    const id = await aliceSandbox(f);
    f.service.execScript = [{ stdout: 'working\n' }, { hang: true }];
    const running = f.send(f.people.alice, { method: 'POST', url: `/api/v1/sandboxes/${id}/exec?stream=false`, payload: { command: ['sleep', '60'] } });
    for (let i = 0; i < 200 && f.service.execs.length === 0; i += 1) await new Promise((r) => setTimeout(r, 10));
    const execId = f.service.execs[0]?.session.execId;
    assert.ok(execId !== undefined, 'the exec started');
    assertForbiddenClean(await f.send(f.people.bob, { method: 'GET', url: `/api/v1/sandboxes/${id}/execs` }), 'execs list');
    assertForbiddenClean(await f.send(f.people.bob, { method: 'DELETE', url: `/api/v1/sandboxes/${id}/execs/${execId}` }), 'exec kill');
    assert.deepEqual(f.service.killedExecs, []);
    const listed = await f.send(f.people.alice, { method: 'GET', url: `/api/v1/sandboxes/${id}/execs` });
    assert.equal(listed.statusCode, 200, listed.body);
    assert.deepEqual(listed.json().execs.map((e: { exec_id: string; command: string[] }) => [e.exec_id, e.command]), [[execId, ['sleep', '60']]]);
    const killed = await f.send(f.people.olga, { method: 'DELETE', url: `/api/v1/sandboxes/${id}/execs/${execId}` });
    assert.equal(killed.statusCode, 200, killed.body);
    assert.deepEqual(f.service.killedExecs, [execId]);
    assert.equal((await running).json().termination_reason, 'killed');
    assertError(await f.send(f.people.alice, { method: 'DELETE', url: `/api/v1/sandboxes/${id}/execs/e-unknown` }), 404, 'execution_not_found');
  });

  it('an agent naming another agent_id is refused on create and execute; an operator may', async (t) => {
    const f = await castFixture(t);
    const create = { method: 'POST', url: '/api/v1/sandboxes', payload: { agent_id: 'bob' } } as const;
    const execute = { method: 'POST', url: '/api/v1/sandbox/execute', payload: { code: 'print(1)', language: 'python', agent_id: 'bob' } } as const;
    // Refused by the tenancy policy, which names itself.
    assert.match(assertError(await f.send(f.people.alice, create), 403, 'forbidden').message, /\(agent-own-sandboxes-only\)$/);
    assert.match(assertError(await f.send(f.people.alice, execute), 403, 'forbidden').message, /\(agent-own-sandboxes-only\)$/);
    assert.deepEqual([f.service.created.length, f.service.executed.length], [0, 0]);
    // Naming oneself is fine.
    assert.equal((await f.send(f.people.alice, { ...create, payload: { agent_id: 'alice' } })).statusCode, 201);
    const made = await f.send(f.people.olga, create);
    assert.equal(made.statusCode, 201, made.body);
    assert.equal(made.json().owner, 'bob');
    assert.equal((await f.send(f.people.olga, execute)).statusCode, 200);
    assert.equal(f.service.executed.at(-1)?.agentId, 'bob');
    // Created for bob, it is bob's: he sees it, alice does not.
    assert.ok((await visibleIds(f, f.people.bob)).list.includes(made.json().sandbox_id));
    assertForbiddenClean(await f.send(f.people.alice, { method: 'GET', url: `/api/v1/sandboxes/${made.json().sandbox_id}` }), 'get bob\'s');
  });
});
