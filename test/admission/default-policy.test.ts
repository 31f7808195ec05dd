/**
 * The shipped default policy through HTTP, for an unconfigured install: agents get `none` and
 * `restricted` networks and the default image; `full` egress and writable host grants wait for an
 * approval (202); host grants outside `policy.hostRoots` are denied, naming the policy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAccess } from '../../src/admission/access.ts';
import { buildApp } from '../../src/api/app.ts';
import { FakeService } from '../api/fake-service.ts';
import { assertError } from '../api/helpers.ts';
import { castFixture, send, testConfig } from './fixture.ts';

const CREATE = '/api/v1/sandboxes';
const EXECUTE = '/api/v1/sandbox/execute';
const ROOTS = ['/srv/data'];
const rw = (hostPath: string) => ({ host_path: hostPath, sandbox_path: '/mnt/work', mode: 'rw' });

describe('default policy', () => {
  it("an agent's full egress is 202 approval_required, with the approval id and the action digest; nothing runs", async (t) => {
    const f = await castFixture(t);
    for (const [url, payload] of [
      [CREATE, { network_policy: 'full' }],
      [EXECUTE, { code: 'print(1)', language: 'python', agent_id: 'alice', network_policy: 'full' }],
    ] as const) {
      const res = await f.send(f.people.alice, { method: 'POST', url, payload });
      assert.equal(res.statusCode, 202, res.body);
      assert.equal(res.headers['cache-control'], 'no-store');
      const body = res.json();
      assert.equal(body.status, 'approval_required');
      assert.match(body.approval.approval_id, /^apr_[A-Za-z0-9_-]{24}$/);
      assert.match(body.action_digest, /^sha256:[0-9a-f]{64}$/);
      assert.equal(body.approval.action_digest, body.action_digest);
      assert.equal(body.approval.state, 'pending');
      assert.deepEqual(body.approval.policy_ids, ['agent-configure-with-approval']);
      assert.deepEqual(body.approval.requester, { name: 'alice', agent_id: 'alice' });
      // It is in the store: the approver finds it.
      const seen = await f.send(f.people.petra, { method: 'GET', url: `/api/v1/approvals/${body.approval.approval_id}` });
      assert.equal(seen.json().action_digest, body.action_digest);
    }
    assert.deepEqual([f.service.created.length, f.service.executed.length], [0, 0]);
  });

  it('none and restricted networks with the default image are allowed outright', async (t) => {
    const f = await castFixture(t);
    for (const payload of [{}, { network_policy: 'none' }, { network_policy: 'restricted', allowed_hosts: ['pypi.org'] }, { image: 'default' }]) {
      const res = await f.send(f.people.alice, { method: 'POST', url: CREATE, payload });
      assert.equal(res.statusCode, 201, `${JSON.stringify(payload)}: ${res.body}`);
    }
    const run = await f.send(f.people.alice, { method: 'POST', url: EXECUTE, payload: { code: 'print(1)', language: 'python', agent_id: 'alice', network_policy: 'restricted', allowed_hosts: ['pypi.org'] } });
    assert.equal(run.statusCode, 200, run.body);
  });

  it('another image is denied to an agent (no approval opens), and allowed to an operator', async (t) => {
    const f = await castFixture(t);
    const error = assertError(await f.send(f.people.alice, { method: 'POST', url: CREATE, payload: { image: 'python-3.12' } }), 403, 'forbidden');
    assert.match(error.message, /^denied by policy: /);
    assert.equal((await f.send(f.people.petra, { method: 'GET', url: '/api/v1/approvals' })).json().total_count, 0);
    assert.equal(f.service.created.length, 0);
    assert.equal((await f.send(f.people.olga, { method: 'POST', url: CREATE, payload: { image: 'python-3.12' } })).statusCode, 201);
  });

  it('a host grant outside policy.hostRoots is 403 naming host-grants-within-roots, even writable (no approval can lift it)', async (t) => {
    const f = await castFixture(t, { hostRoots: ROOTS });
    for (const grant of ['/home/alice/project', '/srv/database', '/srv', rw('/home/alice/project')]) {
      const error = assertError(await f.send(f.people.alice, { method: 'POST', url: CREATE, payload: { filesystem_access: [grant] } }), 403, 'forbidden');
      assert.match(error.message, /\(host-grants-within-roots\)$/, JSON.stringify(grant));
    }
    const onRun = await f.send(f.people.alice, { method: 'POST', url: EXECUTE, payload: { code: 'print(1)', language: 'python', agent_id: 'alice', filesystem_access: ['/home/alice/project'] } });
    assert.match(assertError(onRun, 403, 'forbidden').message, /host-grants-within-roots/);
    assert.equal((await f.send(f.people.petra, { method: 'GET', url: '/api/v1/approvals' })).json().total_count, 0);
    assert.deepEqual([f.service.created.length, f.service.executed.length], [0, 0]);
    // Operators run the host: the roots don't confine them.
    assert.equal((await f.send(f.people.olga, { method: 'POST', url: CREATE, payload: { filesystem_access: ['/home/alice/project'] } })).statusCode, 201);
  });

  it('with no hostRoots configured (the default), an agent may grant no host path at all', async (t) => {
    const f = await castFixture(t);
    const error = assertError(await f.send(f.people.alice, { method: 'POST', url: CREATE, payload: { filesystem_access: ['/srv/data/project'] } }), 403, 'forbidden');
    assert.match(error.message, /host-grants-within-roots/);
  });

  it('inside a root: read-only is allowed, writable waits for an approval', async (t) => {
    const f = await castFixture(t, { hostRoots: ROOTS });
    const ro = await f.send(f.people.alice, { method: 'POST', url: CREATE, payload: { filesystem_access: ['/srv/data/project', '/srv/data'] } });
    assert.equal(ro.statusCode, 201, ro.body);
    assert.deepEqual(f.service.created[0]?.mounts.map((m) => [m.hostPath, m.writable]), [['/srv/data/project', false], ['/srv/data', false]]);
    const writable = await f.send(f.people.alice, { method: 'POST', url: CREATE, payload: { filesystem_access: [rw('/srv/data/project')] } });
    assert.equal(writable.statusCode, 202, writable.body);
    assert.deepEqual(writable.json().approval.policy_ids, ['agent-configure-with-approval']);
    assert.equal(f.service.created.length, 1);
  });

  it('without an approval gate (no store), a request that needs approval is 403 approval_unavailable naming the policy', async (t) => {
    const config = testConfig({ auth: { unsignedLoopback: true, unsignedLoopbackAs: { name: 'dev', role: 'agent', groups: [] } } });
    const service = new FakeService();
    const app = buildApp({ service, access: await createAccess({ config }) });
    t.after(() => app.close());
    const error = assertError(await send(app, undefined, { method: 'POST', url: CREATE, payload: { network_policy: 'full' } }), 403, 'approval_unavailable');
    assert.match(error.message, /agent-configure-with-approval/);
    assert.equal((await send(app, undefined, { method: 'POST', url: CREATE, payload: {} })).statusCode, 201);
    assert.equal(service.created.length, 1);
  });
});
