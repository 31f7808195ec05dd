import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG } from '../config/config.ts';
import { checkNetworkRequest, NetworkPolicyError, type NetworkRequest } from './policy.ts';

const config = { ...DEFAULT_CONFIG.network, maxAllowedHosts: 3, services: { inference: { url: 'http://10.0.0.5:8000', methods: ['POST'], pathPrefixes: ['/v1/'] } } };
const req = (over: Partial<NetworkRequest>): NetworkRequest => ({ mode: 'restricted', allowedHosts: [], services: [], ...over });

async function problems(request: NetworkRequest): Promise<string[]> {
  try {
    await checkNetworkRequest(request, config);
    return [];
  } catch (err) {
    assert.ok(err instanceof NetworkPolicyError);
    return err.problems.map((p) => `${p.entry}: ${p.reason}`);
  }
}

test('a valid restricted request yields its parsed allowlist', async () => {
  const rules = await checkNetworkRequest(req({ allowedHosts: ['pypi.org', '*.example.com:8443'], services: ['inference'] }), config);
  assert.equal(rules.length, 2);
});

test('allowlists and services are refused for other modes, naming the field', async () => {
  assert.deepEqual(await problems(req({ mode: 'none', allowedHosts: ['pypi.org'] })), ['allowed_hosts: only applies to network_policy restricted, not none']);
  assert.deepEqual(await problems(req({ mode: 'full', services: ['inference'] })), ['services: only reachable with network_policy restricted, not full']);
});

test('every problem is named at once: broad patterns, too many entries, unknown services', async () => {
  const found = await problems(req({ allowedHosts: ['*', '*.com', 'ok.example.com', 'x.org'], services: ['billing'] }));
  assert.ok(found.some((p) => p.startsWith('allowed_hosts: at most 3')), found.join('\n'));
  assert.ok(found.some((p) => p.startsWith('billing: no such internal service')), found.join('\n'));
  assert.ok(found.some((p) => p.startsWith('*:')), found.join('\n'));
  assert.ok(found.some((p) => p.startsWith('*.com:')), found.join('\n'));
});
