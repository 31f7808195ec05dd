import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG, parseConfig } from './config.ts';

test('policy config: shipped policies and no host roots unless configured', () => {
  assert.deepEqual(parseConfig({}).policy, { dir: null, hostRoots: [] });
  assert.deepEqual(DEFAULT_CONFIG.policy, { dir: null, hostRoots: [] });
  assert.deepEqual(parseConfig({ policy: { dir: '/etc/airlock/policies', hostRoots: ['/srv/work'] } }).policy, { dir: '/etc/airlock/policies', hostRoots: ['/srv/work'] });
});

test('policy config: a host root must be an absolute directory other than /', () => {
  for (const root of ['/', '//', 'srv/work', '']) {
    assert.throws(() => parseConfig({ policy: { hostRoots: [root] } }), /policy\.hostRoots\.0/, root);
  }
  assert.throws(() => parseConfig({ policy: { dirr: '/x' } }), /policy/);
});
