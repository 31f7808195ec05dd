/**
 * `airlock serve`'s unix socket through startServer, on real sockets in a temporary directory: it
 * answers, gets its mode and group, replaces a stale socket, refuses a live one or a non-socket,
 * and is removed at shutdown.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLoopbackAccess } from '../admission/loopback-access.ts';
import { DEFAULT_CONFIG, type AirlockConfig } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import { findExecutable } from '../host/which.ts';
import { ControllerListeners } from '../network/listeners.ts';
import { createLogger } from '../observability/logger.ts';
import { AirlockMetrics } from '../observability/metrics.ts';
import { FakeService } from '../../test/api/fake-service.ts';
import { startServer } from './serve.ts';

const work = mkdtempSync('/tmp/airlock-api-socket-');
after(() => rmSync(work, { recursive: true, force: true }));
let seq = 0;

/** A configuration whose socket and state live under this test's directory. */
function testConfig(socket: Partial<AirlockConfig['service']['socket']> = {}): AirlockConfig {
  const config = structuredClone(DEFAULT_CONFIG) as AirlockConfig;
  const dir = `${work}/run-${seq++}`;
  config.stateDir = `${work}/state`;
  config.service.socket = { ...config.service.socket, path: `${dir}/api.sock`, ...socket };
  return config;
}

async function start(config: AirlockConfig, service = new FakeService()) {
  const lines: string[] = [];
  const { logger } = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
  const server = await startServer({
    service, access: await createLoopbackAccess(), metrics: new AirlockMetrics(), logger, config,
    listeners: new ControllerListeners(config.network), host: '127.0.0.1', port: 0,
  });
  return { server, lines };
}

/** GET over the unix socket: status and body. */
function getUnix(socketPath: string, path: string): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    request({ socketPath, path, headers: { host: 'localhost' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    }).on('error', reject).end();
  });
}

const isSocketControl = (pattern: RegExp) => (e: unknown) => e instanceof ControlError && e.control === 'api_socket' && pattern.test(e.message);
const skip = findExecutable('gcc') === undefined ? 'gcc is not installed (the peer-credentials helper is built with it)' : process.getuid?.() !== 0 ? 'needs root (chown to a group)' : false;

describe('airlock serve: unix socket', { skip }, () => {
  it('serves the API on the socket, in a 0755 directory, reports it with its scheme, and removes it at shutdown', async () => {
    const config = testConfig({ group: 'nogroup', mode: 0o660 });
    const path = config.service.socket.path ?? '';
    const { server } = await start(config);
    try {
      assert.deepEqual(server.listeners.map((l) => [l.transport, l.scheme]), [['tcp', 'http'], ['unix', 'http']]);
      assert.deepEqual(server.listeners[1], { transport: 'unix', scheme: 'http', path, mode: 0o660, group: 'nogroup' });
      const st = lstatSync(path);
      assert.ok(st.isSocket());
      assert.equal(st.mode & 0o7777, 0o660);
      assert.equal(st.gid, 65534, 'the socket belongs to the configured group');
      assert.equal(st.uid, 0);
      assert.equal(lstatSync(dirname(path)).mode & 0o7777, 0o755);
      const health = await getUnix(path, '/health');
      assert.equal(health.status, 200, health.body);
      assert.ok(server.peers, 'a peer-credentials reader comes with the socket');
    } finally {
      await server.close();
    }
    assert.equal(existsSync(path), false, 'the socket file is removed at shutdown');
  });

  it('without the group, keeps the socket root-only (0600) and warns how to create the group', async () => {
    const config = testConfig({ group: 'airlock-no-such-group', mode: 0o660 });
    const path = config.service.socket.path ?? '';
    const { server, lines } = await start(config);
    try {
      const st = lstatSync(path);
      assert.equal(st.mode & 0o7777, 0o600);
      assert.equal(st.gid, 0);
      assert.deepEqual(server.listeners[1], { transport: 'unix', scheme: 'http', path, mode: 0o600, group: undefined });
      assert.match(lines.join(''), /group \\"airlock-no-such-group\\" does not exist.*groupadd --system airlock-no-such-group/);
    } finally {
      await server.close();
    }
  });

  it('replaces a stale socket nobody answers on', async () => {
    const config = testConfig();
    const path = config.service.socket.path ?? '';
    // A controller that died: its socket file stays, nothing listens on it.
    const code = `require('node:fs').mkdirSync(require('node:path').dirname(${JSON.stringify(path)}), { recursive: true, mode: 0o755 }); require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'));`;
    const dead = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(dead.stdout, 'data');
    dead.kill('SIGKILL');
    await once(dead, 'exit');
    assert.ok(lstatSync(path).isSocket());
    await assert.rejects(getUnix(path, '/health'), /ECONNREFUSED/, 'nothing answers on the stale socket');
    const { server } = await start(config);
    try {
      assert.equal((await getUnix(path, '/health')).status, 200, 'a live socket took its place');
    } finally {
      await server.close();
    }
  });

  it('refuses to start while another server answers on the socket, naming it, and leaves that server alone', async () => {
    const config = testConfig();
    const path = config.service.socket.path ?? '';
    const first = await start(config);
    const service = new FakeService();
    try {
      await assert.rejects(start(config, service), isSocketControl(new RegExp(`another server answers on ${path}`)));
      assert.equal(service.shutdownCalls, 1, 'the refused server shut its service down');
      assert.equal((await getUnix(path, '/health')).status, 200, 'the first server still answers');
    } finally {
      await first.server.close();
    }
  });

  it('refuses a path that is not a socket, and a directory others can write', async () => {
    const config = testConfig();
    const path = config.service.socket.path ?? '';
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    writeFileSync(path, 'not a socket');
    await assert.rejects(start(config), isSocketControl(/exists and is not a socket/));
    assert.equal(readFileSync(path, 'utf8'), 'not a socket', 'left as it was');
    rmSync(path);
    chmodSync(dirname(path), 0o777);
    await assert.rejects(start(config), isSocketControl(/that no one else can write/));
    assert.equal(existsSync(path), false);
  });
});
