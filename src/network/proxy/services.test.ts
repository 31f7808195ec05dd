import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkServiceRequest, findService, serviceUpstreamUrl } from './services.ts';
import type { InternalService } from './types.ts';

const api: InternalService = { name: 'API', url: new URL('https://10.0.0.5/base/'), methods: ['GET'], pathPrefixes: ['/v1', '/files/'] };
const metrics: InternalService = { name: 'metrics', url: new URL('http://[fd00::9]:9100'), methods: ['get'], pathPrefixes: ['/'] };

describe('findService', () => {
  it('finds a service by <name>.airlock.internal on port 80 only', () => {
    assert.deepEqual(findService([api, metrics], 'api.airlock.internal', 80), { kind: 'service', service: api });
    assert.deepEqual(findService([api, metrics], 'api.airlock.internal', 443), { kind: 'unknown_service' });
    assert.deepEqual(findService([api, metrics], 'nope.airlock.internal', 80), { kind: 'unknown_service' });
    assert.deepEqual(findService([api, metrics], 'airlock.internal', 80), { kind: 'unknown_service' });
  });

  it("finds a service by its URL's canonical host and port", () => {
    assert.deepEqual(findService([api, metrics], '10.0.0.5', 443), { kind: 'service', service: api });
    assert.deepEqual(findService([api, metrics], 'fd00::9', 9100), { kind: 'service', service: metrics });
    assert.deepEqual(findService([api, metrics], '10.0.0.5', 80), { kind: 'none' });
    assert.deepEqual(findService([api, metrics], 'example.com', 80), { kind: 'none' });
  });
});

describe('checkServiceRequest', () => {
  it('allows listed methods under whole-segment prefixes', () => {
    assert.equal(checkServiceRequest(api, 'get', '/v1', '/v1'), null);
    assert.equal(checkServiceRequest(api, 'GET', '/v1/a/b', '/v1/a/b?x=%2f'), null);
    assert.equal(checkServiceRequest(api, 'GET', '/files/x', '/files/x'), null);
    assert.equal(checkServiceRequest(metrics, 'GET', '/anything', '/anything'), null);
  });

  it('refuses other methods, paths and encoded separators', () => {
    assert.equal(checkServiceRequest(api, 'POST', '/v1', '/v1'), 'service_method_not_allowed');
    assert.equal(checkServiceRequest(api, 'GET', '/v10', '/v10'), 'service_path_not_allowed');
    assert.equal(checkServiceRequest(api, 'GET', '/files', '/files'), 'service_path_not_allowed');
    assert.equal(checkServiceRequest(api, 'GET', '/v1/x', '/v1/%2E%2e/x'), 'service_path_encoded');
    assert.equal(checkServiceRequest(api, 'GET', '/v1%2Fx', '/v1%2Fx'), 'service_path_encoded');
    assert.equal(checkServiceRequest(api, 'GET', '/v1/x', '/v1/%5cx'), 'service_path_encoded');
    assert.equal(checkServiceRequest(api, 'GET', '/x', '/v1\\..\\x'), 'service_path_encoded');
  });
});

describe('serviceUpstreamUrl', () => {
  it('joins the base path with the request path and keeps the query', () => {
    assert.equal(serviceUpstreamUrl(api, '/v1/a?b=1').href, 'https://10.0.0.5/base/v1/a?b=1');
    assert.equal(serviceUpstreamUrl(metrics, '/m').href, 'http://[fd00::9]:9100/m');
  });
});
