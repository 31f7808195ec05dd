import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAKE_POLICY_HASH } from './fake-service.ts';
import { assertError, json, makeApp } from './helpers.ts';

const URL = '/api/v1/sandbox/execute';
const OTHER_HASH = `sha256:${'c'.repeat(64)}`;

describe('POST /api/v1/sandbox/execute', () => {
  it('runs the seed request and answers with every seed field plus ours', async () => {
    const { app, service } = await makeApp();
    const res = await app.inject(json('POST', URL, { agent_id: 'test_agent', code: 'print("hi")' }));
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    for (const field of ['execution_id', 'success', 'output', 'error', 'security_violations', 'execution_time_seconds', 'cold_start_time_ms', 'resource_usage', 'termination_reason', 'runtime_used', 'constitutional_hash_verified', 'exit_code', 'policy_hash']) {
      assert.ok(field in body, `missing ${field}`);
    }
    // Nothing pinned: whether a pin matched is not a question (null), never a constant true.
    assert.equal(body.constitutional_hash_verified, null);
    assert.equal(body.runtime_used, 'namespace');
    assert.ok(res.headers['x-request-id']);
    const sent = service.executed[0];
    assert.equal(sent?.language, 'python');
    assert.equal(sent?.code, 'print("hi")');
    assert.deepEqual(sent?.mounts, []);
  });

  it('maps every seed field onto the service request', async () => {
    const { app, service } = await makeApp();
    const res = await app.inject(json('POST', URL, {
      agent_id: 'a1', command: ['echo', 'x'], runtime: 'namespace', timeout_seconds: 10, memory_limit_mb: 256, cpu_limit: 0.5,
      network_policy: 'none', filesystem_access: ['/usr/share', { host_path: '/opt', sandbox_path: '/data', mode: 'rw' }], environment: { FOO: 'bar' },
    }));
    assert.equal(res.statusCode, 200, res.body);
    const sent = service.executed[0];
    assert.deepEqual(sent?.command, ['echo', 'x']);
    assert.deepEqual(sent?.limits, { memoryMb: 256, cpuCores: 0.5, timeoutSeconds: 10 });
    assert.deepEqual(sent?.env, { FOO: 'bar' });
    assert.deepEqual(sent?.network, { mode: 'none', allowedHosts: [], services: [] });
    assert.deepEqual(sent?.mounts, [
      { hostPath: '/usr/share', sandboxPath: '/usr/share', writable: false },
      { hostPath: '/opt', sandboxPath: '/data', writable: true },
    ]);
  });

  it('pins the policy hash by field or header: match → verified, mismatch → 409', async () => {
    const { app } = await makeApp();
    const ok = await app.inject(json('POST', URL, { agent_id: 'a', code: '1', expected_policy_hash: FAKE_POLICY_HASH }));
    assert.equal(ok.json().constitutional_hash_verified, true);
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', expected_policy_hash: OTHER_HASH })), 409, 'policy_mismatch');
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1' }, { 'x-airlock-policy-hash': OTHER_HASH })), 409, 'policy_mismatch');
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1' }, { 'x-airlock-policy-hash': 'md5:x' })), 400, 'invalid_request');
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', expected_policy_hash: FAKE_POLICY_HASH }, { 'x-airlock-policy-hash': OTHER_HASH })), 400);
  });

  it('refuses unknown and unavailable runtimes, naming them', async () => {
    const { app } = await makeApp();
    const unknown = assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', runtime: 'kata' })), 400, 'invalid_request');
    assert.match(unknown.message, /kata/);
    const unavailable = assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', runtime: 'gvisor' })), 400, 'runtime_unavailable');
    assert.match(unavailable.message, /gvisor/);
    // The seed API's other name for microvm is that runtime, refused like it where it can't run.
    const alias = assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', runtime: 'firecracker' })), 400, 'runtime_unavailable');
    assert.match(alias.message, /microvm/);
  });

  it('passes the network policy, allowlist and services to the service; default none', async () => {
    const { app, service } = await makeApp();
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', code: '1' }))).statusCode, 200);
    assert.deepEqual(service.executed[0]?.network, { mode: 'none', allowedHosts: [], services: [] });
    const restricted = await app.inject(json('POST', URL, {
      agent_id: 'a', code: '1', network_policy: 'restricted', allowed_hosts: ['api.example.com', 'pypi.org:443', '*.githubusercontent.com', '10.0.0.5:8080', '[2001:db8::1]:443'], services: ['billing'],
    }));
    assert.equal(restricted.statusCode, 200, restricted.body);
    assert.deepEqual(service.executed[1]?.network, {
      mode: 'restricted', allowedHosts: ['api.example.com', 'pypi.org:443', '*.githubusercontent.com', '10.0.0.5:8080', '[2001:db8::1]:443'], services: ['billing'],
    });
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', code: '1', network_policy: 'full' }))).statusCode, 200);
    assert.deepEqual(service.executed[2]?.network, { mode: 'full', allowedHosts: [], services: [] });
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', code: '1', network_policy: 'none' }))).statusCode, 200);
    assert.deepEqual(service.executed[3]?.network, { mode: 'none', allowedHosts: [], services: [] });
  });

  it('refuses malformed network fields, naming the field, before running anything', async () => {
    const { app, service } = await makeApp();
    const cases: Array<[object, RegExp]> = [
      [{ network_policy: 'open' }, /body\.network_policy/],
      [{ network_policy: true }, /body\.network_policy/],
      [{ network_policy: 'restricted', allowed_hosts: 'example.com' }, /body\.allowed_hosts/],
      [{ network_policy: 'restricted', allowed_hosts: [42] }, /body\.allowed_hosts\[0\]/],
      [{ network_policy: 'restricted', allowed_hosts: [''] }, /body\.allowed_hosts\[0\]/],
      [{ network_policy: 'restricted', allowed_hosts: ['x'.repeat(301)] }, /body\.allowed_hosts\[0\]/],
      [{ network_policy: 'restricted', services: 'billing' }, /body\.services/],
      [{ network_policy: 'restricted', services: ['Billing'] }, /body\.services\[0\]: a configured service name/],
      [{ network_policy: 'restricted', services: ['bill ing'] }, /body\.services\[0\]/],
      [{ network_policy: 'restricted', services: ['../etc'] }, /body\.services\[0\]/],
      [{ network_policy: 'restricted', services: ['b'.repeat(40)] }, /body\.services\[0\]/],
    ];
    for (const [fields, pattern] of cases) {
      const err = assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', ...fields })), 400, 'invalid_request');
      assert.match(err.message, pattern);
    }
    assert.equal(service.executed.length, 0);
  });

  it('network requests the service refuses are 400 with its reasons', async () => {
    const { app, service } = await makeApp();
    const cases: Array<[object, RegExp]> = [
      [{ network_policy: 'restricted', allowed_hosts: ['*'] }, /\*: too broad/],
      [{ network_policy: 'restricted', allowed_hosts: ['*.com:443'] }, /\*\.com:443: too broad/],
      [{ allowed_hosts: ['example.com'] }, /allowed_hosts: only applies to network_policy restricted, not none/],
      [{ network_policy: 'full', services: ['billing'] }, /services: only reachable with network_policy restricted, not full/],
      [{ network_policy: 'restricted', services: ['payroll'] }, /payroll: no such internal service/],
    ];
    for (const [fields, pattern] of cases) {
      const err = assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', ...fields })), 400, 'invalid_request');
      assert.match(err.message, pattern);
    }
    assert.equal(service.executed.length, 0);
  });

  it('refuses limits above the maximum, naming the field, never clamping', async () => {
    const { app, service } = await makeApp();
    const err = assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', memory_limit_mb: 4096 })), 400, 'invalid_request');
    assert.match(err.message, /memory_limit_mb/);
    assert.match(assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', cpu_limit: 64 })), 400).message, /cpu_limit/);
    assert.match(assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', timeout_seconds: -1 })), 400).message, /timeout_seconds/);
    assert.match(assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', memory_limit_mb: 1.5 })), 400).message, /memory_limit_mb/);
    assert.equal(service.executed.length, 0);
  });

  it('refuses bad code/command combinations and wrong types', async () => {
    const { app } = await makeApp();
    const bad: unknown[] = [
      { agent_id: 'a' },
      { agent_id: 'a', code: '1', command: ['ls'] },
      { agent_id: 'a', command: ['ls'], language: 'python' },
      { agent_id: 'a', code: '1', language: 'cobol' },
      { agent_id: 'a', command: [] },
      { agent_id: 'a', command: ['a\0b'] },
      { agent_id: 'a', code: 42 },
      { agent_id: '', code: '1' },
      { agent_id: 'a', code: '1', environment: { 'BAD-NAME': 'x' } },
      { agent_id: 'a', code: '1', environment: { A: 1 } },
      { agent_id: 'a', code: '1', surprise: true },
      [],
      'text',
      null,
    ];
    for (const payload of bad) assertError(await app.inject(json('POST', URL, payload)), 400, 'invalid_request');
  });

  it('without agent_id the run is recorded under the caller\'s own agent id', async () => {
    const { app, service } = await makeApp();
    const res = await app.inject(json('POST', URL, { code: '1' }));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(service.executed.at(-1)?.agentId, 'local-operator');
  });

  it('refuses filesystem grants that escape or touch protected host trees', async () => {
    // A symlink in a granted path is refused by the driver, which never follows one (T24); the API
    // passes paths on unresolved (see request-mapping.test.ts).
    const { app } = await makeApp();
    // Malformed paths (and targets the runtime owns) are 400 invalid_path.
    for (const grant of ['relative/path', '/tmp/../etc', { host_path: '/opt', sandbox_path: '/proc/x' }, { host_path: '/opt', sandbox_path: 'rel' }]) {
      assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', filesystem_access: [grant] })), 400, 'invalid_path');
    }
    // Well-formed host paths that may not be granted are 403 filesystem_access_refused, as when a driver refuses them.
    for (const grant of ['/', '/proc', '/run/docker.sock', '/var/run/x', { host_path: '/sys/kernel', sandbox_path: '/data' }]) {
      const err = assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', filesystem_access: [grant] })), 403, 'filesystem_access_refused');
      assert.match(err.message, /^filesystem_access: body\.filesystem_access\[0\]/);
    }
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', filesystem_access: [{ host_path: '/opt', mode: 'rwx' }] })), 400, 'invalid_request');
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', filesystem_access: ['/opt', '/opt'] })), 400, 'invalid_path');
  });

  it('honours an allowlist of grantable host paths', async () => {
    const { app } = await makeApp({ allowedHostPrefixes: ['/srv/data'] });
    assertError(await app.inject(json('POST', URL, { agent_id: 'a', code: '1', filesystem_access: ['/opt'] })), 403, 'filesystem_access_refused');
    assert.equal((await app.inject(json('POST', URL, { agent_id: 'a', code: '1', filesystem_access: ['/srv/data/x'] }))).statusCode, 200);
  });

  it('answers 429 with Retry-After at the service cap and at the API cap', async () => {
    const { app, service } = await makeApp();
    service.capacity = 0;
    const res = await app.inject(json('POST', URL, { agent_id: 'a', code: '1' }));
    assertError(res, 429, 'capacity_exceeded');
    assert.equal(res.headers['retry-after'], '2');

    const gated = await makeApp({ maxInflight: 1, retryAfterSeconds: 3 });
    gated.service.executeDelayMs = 50;
    const first = gated.app.inject(json('POST', URL, { agent_id: 'a', code: '1' }));
    await new Promise((r) => setTimeout(r, 10));
    const second = await gated.app.inject(json('POST', URL, { agent_id: 'a', code: '1' }));
    assertError(second, 429, 'capacity_exceeded');
    assert.equal(second.headers['retry-after'], '3');
    assert.equal((await first).statusCode, 200);
    assert.equal((await gated.app.inject(json('POST', URL, { agent_id: 'a', code: '1' }))).statusCode, 200, 'slot released');
  });
});
