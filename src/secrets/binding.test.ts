import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../config/config.ts';
import { EnvSecretProvider } from './env-provider.ts';
import { SecretRegistry } from './registry.ts';

const BIND = { hosts: ['api.example.com'], header: 'Authorization', format: 'Bearer {value}' };
const REAL = 'sk-real-value-123';

describe('brokered secrets: resolution', () => {
  const registry = () => new SecretRegistry([new EnvSecretProvider({ api_key: 'K', plain: 'P' }, { K: REAL, P: 'plain-value' })], { api_key: BIND });

  it('hands out a fresh placeholder as the value and keeps the real one in the delivery', async () => {
    const [first] = await registry().resolve(['api_key']);
    const [second] = await registry().resolve(['api_key']);
    assert.equal(first?.delivery.kind, 'brokered');
    assert.match(first?.value.bytes().toString() ?? '', /^airlock-brokered-[0-9a-f]{32}$/);
    assert.notEqual(first?.value.bytes().toString(), second?.value.bytes().toString(), 'one placeholder per sandbox');
    assert.equal(first?.delivery.kind === 'brokered' ? first.delivery.real.bytes().toString() : '', REAL);
    assert.deepEqual(first?.delivery.kind === 'brokered' ? first.delivery.bind : undefined, BIND);
  });

  it('leaves an unbound secret a file with its value', async () => {
    const [plain] = await registry().resolve(['plain']);
    assert.deepEqual([plain?.delivery.kind, plain?.value.bytes().toString()], ['file', 'plain-value']);
  });
});

describe('brokered secrets: configuration', () => {
  it('accepts a binding and defaults to none', () => {
    assert.deepEqual(parseConfig({}).secrets.bind, {});
    assert.deepEqual(parseConfig({ secrets: { bind: { api_key: BIND } } }).secrets.bind, { api_key: BIND });
  });

  const bad: [string, unknown][] = [
    ['a format without {value}', { ...BIND, format: 'Bearer' }],
    ['no hosts', { ...BIND, hosts: [] }],
    ['a host with a port or upper case', { ...BIND, hosts: ['API.example.com:443'] }],
    ['a header name with a colon', { ...BIND, header: 'Authorization:' }],
    ['an unknown field', { ...BIND, extra: 1 }],
  ];
  for (const [what, binding] of bad) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseConfig({ secrets: { bind: { api_key: binding } } }), /secrets/);
    });
  }
  it('refuses a binding for a bad secret name', () => {
    assert.throws(() => parseConfig({ secrets: { bind: { 'bad name': BIND } } }), /secrets/);
  });
});
