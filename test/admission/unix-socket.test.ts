/**
 * Admission over the real unix socket of `airlock serve` (startServer): the caller is the uid the
 * kernel reports (SO_PEERCRED), mapped by auth.localUsers; root is the operator, a listed uid its
 * principal, an unlisted uid is refused. Clients run as other uids in child processes, so this
 * needs root (and gcc for the peer-credentials helper); it is skipped, saying why, otherwise.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, describe, it } from 'node:test';
import { createAccess } from '../../src/admission/access.ts';
import { startServer } from '../../src/cli/serve.ts';
import { DEFAULT_CONFIG, type AirlockConfig } from '../../src/config/config.ts';
import { findExecutable } from '../../src/host/which.ts';
import { ControllerListeners } from '../../src/network/listeners.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { AirlockMetrics } from '../../src/observability/metrics.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { FakeService } from '../api/fake-service.ts';
import { addKeyedPrincipal, send } from './fixture.ts';

const skip = process.getuid?.() !== 0 ? 'needs root: clients run as other uids' : findExecutable('gcc') === undefined ? 'gcc is not installed (it builds the peer-credentials helper)' : false;

/** A listed local user (nobody's uid) and an unlisted one; both in nogroup, the socket's group. */
const LISTED_UID = 65534;
const UNLISTED_UID = 65533;
const GID = 65534;

interface Answer {
  status: number;
  body: { error?: { code: string; message: string }; [key: string]: unknown };
}

/** One request over the socket from a child process running as `uid` (this process, root, when undefined). */
async function overSocket(socketPath: string, uid: number | undefined, method: string, path: string, payload?: unknown): Promise<Answer> {
  const body = payload === undefined ? '' : JSON.stringify(payload);
  const headers = { host: 'localhost', ...(payload === undefined ? {} : { 'content-type': 'application/json' }) };
  if (uid === undefined) {
    return new Promise((resolve, reject) => {
      const req = httpRequest({ socketPath, method, path, headers }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }
  const code = `const req = require('node:http').request({ socketPath: ${JSON.stringify(socketPath)}, method: ${JSON.stringify(method)}, path: ${JSON.stringify(path)}, headers: ${JSON.stringify(headers)} }, (res) => { let t = ''; res.on('data', (d) => (t += d)); res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body: JSON.parse(t) }))); }); req.on('error', (e) => { console.error(e.message); process.exit(3); }); req.end(${JSON.stringify(body)});`;
  const child = spawn(process.execPath, ['-e', code], { uid, gid: GID, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [exit] = (await once(child, 'exit')) as [number];
  assert.equal(exit, 0, err);
  return JSON.parse(out) as Answer;
}

describe('admission over the unix socket', { skip }, () => {
  const work = mkdtempSync('/tmp/airlock-admission-socket-');
  // Reachable by the other uids' clients.
  chmodSync(work, 0o755);
  after(() => rmSync(work, { recursive: true, force: true }));

  it('root is the operator, a listed uid its principal, an unlisted uid is 403 local_user_unknown', async (t) => {
    const config = structuredClone(DEFAULT_CONFIG) as AirlockConfig;
    config.stateDir = `${work}/state`;
    config.service.socket = { path: `${work}/run/api.sock`, group: 'nogroup', mode: 0o660 };
    config.auth.localUsers = [{ uid: LISTED_UID, name: 'nobody-agent', role: 'agent', groups: [] }];
    const store = await SqliteStore.open({ path: `${work}/store/airlock.db` });
    t.after(() => store.close());
    const alice = await addKeyedPrincipal(store, 'alice', 'agent');
    const service = new FakeService();
    const { logger } = createLogger({ level: 'silent' });
    const server = await startServer({
      service, access: await createAccess({ config, store }), metrics: new AirlockMetrics(), logger, config,
      listeners: new ControllerListeners(config.network), host: '127.0.0.1', port: 0,
    });
    t.after(() => server.close());
    const socket = `${work}/run/api.sock`;
    const created = (a: Answer) => String(a.body.sandbox_id);

    // Over TCP, alice signs; over the socket, nobody signs: the kernel says who it is.
    const aliceBox = (await send(server.app, alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} })).json().sandbox_id as string;
    const listed = await overSocket(socket, LISTED_UID, 'POST', '/api/v1/sandboxes', {});
    assert.equal(listed.status, 201, JSON.stringify(listed.body));
    assert.equal(listed.body.owner, 'nobody-agent');
    const mine = await overSocket(socket, LISTED_UID, 'GET', '/api/v1/sandboxes');
    assert.deepEqual((mine.body.sandboxes as Array<{ sandbox_id: string }>).map((s) => s.sandbox_id), [created(listed)]);
    const theirs = await overSocket(socket, LISTED_UID, 'GET', `/api/v1/sandboxes/${aliceBox}`);
    assert.deepEqual([theirs.status, theirs.body.error?.code], [403, 'forbidden']);
    // The listed agent is held to the default policy like any agent.
    const full = await overSocket(socket, LISTED_UID, 'POST', '/api/v1/sandboxes', { network_policy: 'full' });
    assert.equal(full.status, 202);

    const unlisted = await overSocket(socket, UNLISTED_UID, 'GET', '/api/v1/sandboxes');
    assert.deepEqual([unlisted.status, unlisted.body.error?.code], [403, 'local_user_unknown']);
    assert.match(String(unlisted.body.error?.message), new RegExp(`uid ${UNLISTED_UID}`));
    const unlistedCreate = await overSocket(socket, UNLISTED_UID, 'POST', '/api/v1/sandboxes', {});
    assert.equal(unlistedCreate.status, 403);
    // The public routes stay public on the socket too.
    assert.equal((await overSocket(socket, UNLISTED_UID, 'GET', '/health')).status, 200);

    const root = await overSocket(socket, undefined, 'GET', '/api/v1/sandboxes');
    assert.equal(root.status, 200);
    assert.deepEqual((root.body.sandboxes as Array<{ sandbox_id: string }>).map((s) => s.sandbox_id).sort(), [aliceBox, created(listed)].sort());
    const rootKill = await overSocket(socket, undefined, 'DELETE', `/api/v1/sandboxes/${aliceBox}`);
    assert.deepEqual([rootKill.status, rootKill.body.state], [200, 'ended']);
    const rootFull = await overSocket(socket, undefined, 'POST', '/api/v1/sandboxes', { network_policy: 'full' });
    assert.deepEqual([rootFull.status, rootFull.body.owner], [201, 'root']);
    assert.equal(service.created.length, 3);
  });
});
