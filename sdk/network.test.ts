/**
 * The SDK's network calls: create/execute options, `sandbox.network()` and `sandbox.setAllowlist()`,
 * first over a scripted fetch (exact requests), then against the real HTTP app in front of the
 * fake service of the API tests (no sandboxes are created), so the SDK and the server's routes and
 * schemas can't disagree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/api/app.ts';
import { FakeService } from '../test/api/fake-service.ts';
import { AirlockClient } from './client.ts';
import { InvalidRequestError, SandboxNotFoundError, SandboxNotRunningError } from './errors.ts';
import { Sandbox, type SandboxCreateOptions } from './sandbox.ts';
import { envelope, fakeFetch } from './testing/fake-fetch.ts';
import type { ExecuteRequest, NetworkPolicy, SandboxNetworkInfo } from './types.ts';
import { createLoopbackAccess } from '../src/admission/loopback-access.ts';

const NETWORK: SandboxNetworkInfo = {
  network_policy: 'restricted',
  allowed_hosts: ['api.example.com'],
  services: ['billing'],
  network_rx_bytes: 10,
  network_tx_bytes: 20,
  decisions: [{ sandboxId: 's-1', time: '2026-01-01T00:00:00.000Z', kind: 'connect', host: 'evil.example.net', port: 443, allowed: false, reason: 'not_allowlisted' }],
  allowlist_changes: [],
};

describe('network options and calls over a fake fetch', () => {
  it('Sandbox.create sends network_policy, allowed_hosts and services as wire fields, and no connection fields', async () => {
    const { fetch, requests } = fakeFetch({ status: 201, json: { sandbox_id: 's-1' } });
    const options: SandboxCreateOptions = {
      fetch,
      baseUrl: 'http://h:1',
      network_policy: 'restricted',
      allowed_hosts: ['api.example.com', '*.example.org:8443'],
      services: ['billing'],
    };
    const sandbox = await Sandbox.create(options);
    assert.equal(sandbox.id, 's-1');
    assert.equal(requests[0]?.url, 'http://h:1/api/v1/sandboxes');
    assert.deepEqual(JSON.parse(String(requests[0]?.body)), { network_policy: 'restricted', allowed_hosts: ['api.example.com', '*.example.org:8443'], services: ['billing'] });
  });

  it('execute sends the network fields of the one-shot request', async () => {
    const { fetch, requests } = fakeFetch({ json: { success: true } });
    const request: ExecuteRequest = { agent_id: 'a', code: 'print(1)', network_policy: 'restricted', allowed_hosts: ['pypi.org'], services: ['search'] };
    await new AirlockClient({ fetch }).execute(request);
    assert.equal(requests[0]?.url, 'http://127.0.0.1:8002/api/v1/sandbox/execute');
    assert.deepEqual(JSON.parse(String(requests[0]?.body)), request);
  });

  it('sandbox.network() is GET …/network and returns the parsed answer', async () => {
    const { fetch, requests } = fakeFetch({ json: NETWORK });
    const net = await new Sandbox('s-1', new AirlockClient({ fetch })).network();
    assert.deepEqual(net, NETWORK);
    assert.equal(requests[0]?.method, 'GET');
    assert.equal(requests[0]?.url, 'http://127.0.0.1:8002/api/v1/sandboxes/s-1/network');
    assert.equal(requests[0]?.body, undefined);
  });

  it('sandbox.setAllowlist() is PUT …/network with {allowed_hosts}; ids are escaped', async () => {
    const { fetch, requests } = fakeFetch({ json: { ...NETWORK, allowed_hosts: ['pypi.org'] } });
    const client = new AirlockClient({ fetch, headers: { authorization: 'Bearer t' } });
    const net = await new Sandbox('s-1', client).setAllowlist(['pypi.org']);
    assert.deepEqual(net.allowed_hosts, ['pypi.org']);
    assert.equal(requests[0]?.method, 'PUT');
    assert.equal(requests[0]?.url, 'http://127.0.0.1:8002/api/v1/sandboxes/s-1/network');
    assert.equal(requests[0]?.headers['content-type'], 'application/json');
    assert.equal(requests[0]?.headers['authorization'], 'Bearer t');
    assert.deepEqual(JSON.parse(String(requests[0]?.body)), { allowed_hosts: ['pypi.org'] });
    await client.setSandboxAllowlist('a/b', []);
    assert.equal(requests[1]?.url, 'http://127.0.0.1:8002/api/v1/sandboxes/a%2Fb/network');
    assert.deepEqual(JSON.parse(String(requests[1]?.body)), { allowed_hosts: [] });
  });

  it('refusals are typed errors: 400 → InvalidRequestError, 409 → SandboxNotRunningError, 404 → SandboxNotFoundError', async () => {
    const { fetch } = fakeFetch(
      { status: 400, json: envelope('invalid_request', 'network policy refused: *: too broad') },
      { status: 409, json: envelope('sandbox_not_running', 'sandbox s-1 has ended') },
      { status: 404, json: envelope('sandbox_not_found', 'no sandbox s-1') },
    );
    const sandbox = new Sandbox('s-1', new AirlockClient({ fetch }));
    await assert.rejects(sandbox.setAllowlist(['*']), (err: unknown) => err instanceof InvalidRequestError && /too broad/.test(err.message));
    await assert.rejects(sandbox.setAllowlist(['a.example.com']), SandboxNotRunningError);
    await assert.rejects(sandbox.network(), SandboxNotFoundError);
  });
});

describe('network calls against the HTTP app and the fake service', () => {
  let app: FastifyInstance;
  let service: FakeService;
  let client: AirlockClient;

  before(async () => {
    service = new FakeService();
    app = buildApp({ service, access: await createLoopbackAccess() });
    client = new AirlockClient({ baseUrl: await app.listen({ host: '127.0.0.1', port: 0 }) });
  });
  after(async () => {
    await app?.close();
  });

  it('create restricted → network() → setAllowlist() → network() shows the change', async () => {
    const sandbox = await Sandbox.create({ client, network_policy: 'restricted', allowed_hosts: ['api.example.com'], services: ['billing'] });
    assert.deepEqual(service.created.at(-1)?.network, { mode: 'restricted', allowedHosts: ['api.example.com'], services: ['billing'] });
    const info = await sandbox.info();
    const policy: NetworkPolicy = info.network_policy;
    assert.equal(policy, 'restricted');
    assert.deepEqual(info.allowed_hosts, ['api.example.com']);
    assert.deepEqual(info.security_violations, []);

    const before = await sandbox.network();
    assert.deepEqual([before.network_policy, before.allowed_hosts, before.services, before.allowlist_changes], ['restricted', ['api.example.com'], ['billing'], []]);

    const changed = await sandbox.setAllowlist(['pypi.org', 'files.pythonhosted.org:443']);
    assert.deepEqual(changed.allowed_hosts, ['pypi.org', 'files.pythonhosted.org:443']);
    assert.equal(changed.allowlist_changes.length, 1);
    assert.deepEqual((await sandbox.network()).allowed_hosts, ['pypi.org', 'files.pythonhosted.org:443']);
    assert.deepEqual((await sandbox.info()).allowed_hosts, ['pypi.org', 'files.pythonhosted.org:443']);
  });

  it('the default is none; setAllowlist on it, a too-broad entry, a bad service name → InvalidRequestError naming the problem', async () => {
    const plain = await Sandbox.create({ client });
    assert.equal((await plain.network()).network_policy, 'none');
    await assert.rejects(plain.setAllowlist(['example.com']), (err: unknown) => err instanceof InvalidRequestError && /only restricted sandboxes have an allowlist/.test(err.message));
    const restricted = await Sandbox.create({ client, network_policy: 'restricted' });
    await assert.rejects(restricted.setAllowlist(['*']), (err: unknown) => err instanceof InvalidRequestError && /\*: too broad/.test(err.message));
    await assert.rejects(
      Sandbox.create({ client, network_policy: 'restricted', services: ['Not A Name'] }),
      (err: unknown) => err instanceof InvalidRequestError && err.status === 400 && /body\.services\[0\]/.test(err.message),
    );
  });

  it('ended sandboxes: network() still answers, setAllowlist → SandboxNotRunningError; unknown → SandboxNotFoundError', async () => {
    const sandbox = await Sandbox.create({ client, network_policy: 'restricted', allowed_hosts: ['api.example.com'] });
    await sandbox.kill();
    assert.equal((await sandbox.network()).network_policy, 'restricted');
    await assert.rejects(sandbox.setAllowlist([]), SandboxNotRunningError);
    const ghost = new Sandbox('s-00000000-0000-0000-0000-000000000000', client);
    await assert.rejects(ghost.network(), SandboxNotFoundError);
    await assert.rejects(ghost.setAllowlist([]), SandboxNotFoundError);
  });

  it('execute passes the network fields through to the service', async () => {
    const result = await client.execute({ agent_id: 'a', code: 'print(1)', network_policy: 'full' });
    assert.equal(result.success, true);
    assert.deepEqual(service.executed.at(-1)?.network, { mode: 'full', allowedHosts: [], services: [] });
    await assert.rejects(client.execute({ agent_id: 'a', code: '1', allowed_hosts: ['example.com'] }), (err: unknown) => err instanceof InvalidRequestError && /only applies to network_policy restricted/.test(err.message));
  });
});
