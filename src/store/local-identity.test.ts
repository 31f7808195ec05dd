import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/config.ts';
import { resolveLocalPrincipal, ROOT_PRINCIPAL_NAME } from './local-identity.ts';

test('root is always the operator root; a listed uid is its principal; any other uid is nobody', () => {
  const { auth } = parseConfig({
    auth: {
      localUsers: [
        { uid: 1000, name: 'alice', role: 'agent', groups: ['team-b', 'team-a'] },
        { uid: 1001, name: 'ops', role: 'operator', agentId: 'ops-tenant' },
      ],
    },
  });
  assert.deepEqual(resolveLocalPrincipal(0, auth.localUsers), { name: ROOT_PRINCIPAL_NAME, role: 'operator', agentId: 'root', groups: [], uid: 0 });
  assert.deepEqual(resolveLocalPrincipal(1000, auth.localUsers), { name: 'alice', role: 'agent', agentId: 'alice', groups: ['team-a', 'team-b'], uid: 1000 });
  assert.deepEqual(resolveLocalPrincipal(1001, auth.localUsers), { name: 'ops', role: 'operator', agentId: 'ops-tenant', groups: [], uid: 1001 });
  assert.equal(resolveLocalPrincipal(1002, auth.localUsers), undefined);
  assert.equal(resolveLocalPrincipal(65534, []), undefined);
});

test('auth.localUsers defaults to none and refuses root, duplicate uids, unknown roles and unsafe names', () => {
  // Signed requests only by default: the unsigned-loopback development switch is off, and acts as an agent if turned on.
  assert.deepEqual(parseConfig({}).auth, { localUsers: [], unsignedLoopback: false, unsignedLoopbackAs: { name: 'loopback', role: 'agent', groups: [] }, maxSkewSeconds: 60 });
  const refused: [unknown, RegExp][] = [
    [[{ uid: 0, name: 'r', role: 'agent' }], /auth\.localUsers\.0\.uid/],
    [[{ uid: 5, name: 'a', role: 'agent' }, { uid: 5, name: 'b', role: 'agent' }], /each uid may be listed once/],
    [[{ uid: 5, name: 'a', role: 'admin' }], /auth\.localUsers\.0\.role/],
    [[{ uid: 5, name: 'a\u001b]52;c;', role: 'agent' }], /auth\.localUsers\.0\.name/],
    [[{ uid: 5, name: 'a', role: 'agent', extra: true }], /auth\.localUsers\.0/],
  ];
  for (const [localUsers, message] of refused) assert.throws(() => parseConfig({ auth: { localUsers } }), message);
});

test('store.path defaults to null (under the state directory) and must be absolute', () => {
  assert.deepEqual(parseConfig({}).store, { path: null });
  assert.equal(parseConfig({ store: { path: '/srv/airlock/db/airlock.db' } }).store.path, '/srv/airlock/db/airlock.db');
  assert.throws(() => parseConfig({ store: { path: 'relative.db' } }), /store\.path/);
});

test('auth.unsignedLoopbackAs and maxSkewSeconds are checked like every identity setting', () => {
  const on = parseConfig({ auth: { unsignedLoopback: true, unsignedLoopbackAs: { name: 'dev', role: 'operator' } } }).auth;
  assert.deepEqual([on.unsignedLoopback, on.unsignedLoopbackAs], [true, { name: 'dev', role: 'operator', groups: [] }]);
  for (const [auth, path] of [
    [{ unsignedLoopbackAs: { name: 'dev', role: 'root' } }, /auth\.unsignedLoopbackAs\.role/],
    [{ unsignedLoopbackAs: { name: '../x', role: 'agent' } }, /auth\.unsignedLoopbackAs\.name/],
    [{ maxSkewSeconds: 0 }, /auth\.maxSkewSeconds/],
    [{ maxSkewSeconds: 86_400 }, /auth\.maxSkewSeconds/],
    [{ unsignedLoopback: 'yes' }, /auth\.unsignedLoopback/],
  ] as const) assert.throws(() => parseConfig({ auth }), path);
});
