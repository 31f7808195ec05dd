/**
 * The transport of `airlock serve`: plain HTTP off loopback is refused, TLS serves HTTPS on TCP
 * (certificate made by openssl), the unix socket stays plain HTTP, and a request on the socket
 * carries its caller's peer credentials (a client running as another uid included).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { after, describe, it } from 'node:test';
import { createLoopbackAccess } from '../admission/loopback-access.ts';
import { buildApp } from '../api/app.ts';
import { DEFAULT_CONFIG, type AirlockConfig } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import { findExecutable } from '../host/which.ts';
import { ControllerListeners } from '../network/listeners.ts';
import { createLogger } from '../observability/logger.ts';
import { AirlockMetrics } from '../observability/metrics.ts';
import { FakeService } from '../../test/api/fake-service.ts';
import { startServer } from './serve.ts';
import { requireTlsOffLoopback, ServeTransport } from './serve-transport.ts';
import { runCli } from './test-cli.ts';
import { UsageError } from './usage-error.ts';

const work = mkdtempSync('/tmp/airlock-serve-transport-');
// Reachable by the other uid's client.
chmodSync(work, 0o755);
after(() => rmSync(work, { recursive: true, force: true }));
const { logger } = createLogger({ level: 'silent' });

function testConfig(socketPath: string | null): AirlockConfig {
  const config = structuredClone(DEFAULT_CONFIG) as AirlockConfig;
  config.stateDir = `${work}/state`;
  config.service.socket = { path: socketPath, group: 'nogroup', mode: 0o660 };
  return config;
}

async function start(config: AirlockConfig) {
  return startServer({
    service: new FakeService(), access: await createLoopbackAccess(), metrics: new AirlockMetrics(), logger, config,
    listeners: new ControllerListeners(config.network), host: '127.0.0.1', port: 0,
  });
}

describe('airlock serve: TLS off loopback', () => {
  it('refuses plain HTTP on a non-loopback host, saying what to set; loopback or TLS pass', () => {
    for (const host of ['0.0.0.0', '10.0.0.5', '::']) {
      assert.throws(() => requireTlsOffLoopback(host, false, null), (e: unknown) => e instanceof UsageError && /not a loopback address.*service\.tls.*certFile.*keyFile/.test(e.message));
    }
    requireTlsOffLoopback('127.0.0.1', true, null);
    requireTlsOffLoopback('0.0.0.0', false, { certFile: '/c.pem', keyFile: '/k.pem' });
  });

  it('`airlock serve --host 0.0.0.0` without TLS exits 2 before anything starts', async () => {
    const configFile = `${work}/plain.json`;
    writeFileSync(configFile, JSON.stringify({ stateDir: `${work}/cli-state`, runDir: `${work}/cli-run`, service: { socket: { path: null } } }));
    const { code, stderr } = await runCli(['serve', '--host', '0.0.0.0', '--port', '0'], { config: configFile });
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--host 0\.0\.0\.0 is not a loopback address.*service\.tls/);
  });

  it('refuses unreadable TLS files, naming them', async () => {
    const config = testConfig(null);
    config.service.tls = { certFile: `${work}/missing-cert.pem`, keyFile: `${work}/missing-key.pem` };
    await assert.rejects(ServeTransport.open(config, '127.0.0.1', true), (e: unknown) => e instanceof ControlError && e.control === 'tls' && /service\.tls\.certFile .*missing-cert\.pem/.test(e.message));
  });
});

describe('airlock serve: HTTPS on TCP, HTTP on the unix socket', { skip: findExecutable('openssl') === undefined ? 'openssl is not installed (it makes the test certificate)' : findExecutable('gcc') === undefined ? 'gcc is not installed' : false }, () => {
  it('answers HTTPS with the configured certificate and reports each listener\'s scheme', async () => {
    const cert = `${work}/cert.pem`;
    const key = `${work}/key.pem`;
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const config = testConfig(`${work}/tls/api.sock`);
    config.service.tls = { certFile: cert, keyFile: key };
    const server = await start(config);
    try {
      assert.match(server.address, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(server.listeners.map((l) => [l.transport, l.scheme]), [['tcp', 'https'], ['unix', 'http']]);
      const port = Number(new URL(server.address).port);
      const status = await new Promise<number | undefined>((resolve, reject) => {
        httpsRequest({ host: '127.0.0.1', port, path: '/health', ca: readFileSync(cert), servername: 'localhost', headers: { host: 'localhost' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject).end();
      });
      assert.equal(status, 200);
      // Plain HTTP to the TLS port gets no HTTP answer.
      await assert.rejects(new Promise((resolve, reject) => httpRequest({ host: '127.0.0.1', port, path: '/health' }, resolve).on('error', reject).end()));
      const overSocket = await new Promise<number | undefined>((resolve, reject) => {
        httpRequest({ socketPath: `${work}/tls/api.sock`, path: '/health', headers: { host: 'localhost' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject).end();
      });
      assert.equal(overSocket, 200);
    } finally {
      await server.close();
    }
    // A key that is not the certificate's: refused at start, not at each handshake.
    const otherKey = `${work}/other-key.pem`;
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey], { stdio: 'ignore' });
    const mismatched = testConfig(null);
    mismatched.service.tls = { certFile: cert, keyFile: otherKey };
    await assert.rejects(ServeTransport.open(mismatched, '127.0.0.1', true), (e: unknown) => e instanceof ControlError && e.control === 'tls' && /not a usable PEM certificate and key/.test(e.message));
  });

  it('a request on the socket carries its caller\'s peer credentials; one over TCP has none', { skip: process.getuid?.() !== 0 ? 'needs root to start a client as uid 65534' : false }, async () => {
    const config = testConfig(`${work}/peers/api.sock`);
    config.service.socket.mode = 0o660;
    const transport = await ServeTransport.open(config, '127.0.0.1', true);
    const app = buildApp({ service: new FakeService(), access: { ...(await createLoopbackAccess()), peers: transport.peers }, serverFactory: transport.serverFactory });
    // Recorded first of all, whatever authentication then decides about the caller.
    const seen: unknown[] = [];
    app.addHook('onRequest', async (request) => {
      seen.push((await transport.peers?.lookup(request.raw.socket)) ?? null);
    });
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      await transport.listenUnix(logger);
      // nobody (65534) is in nogroup, the socket's group: the client reaches it through the group bits.
      const code = `require('node:http').get({ socketPath: ${JSON.stringify(`${work}/peers/api.sock`)}, path: '/health', headers: { host: 'localhost' } }, (res) => { res.resume(); res.on('end', () => console.log(res.statusCode)); }).on('error', (e) => { console.error(e.message); process.exit(3); });`;
      const child = spawn(process.execPath, ['-e', code], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const [status] = (await once(child, 'exit')) as [number];
      assert.equal(status, 0, err);
      assert.equal(out.trim(), '200');
      assert.deepEqual(seen, [{ uid: 65534, gid: 65534, pid: child.pid }]);
      const port = (app.addresses().find((a) => typeof a !== 'string') as { port: number }).port;
      const overTcp = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(overTcp.status, 200);
      assert.deepEqual(seen.slice(1), [null], 'a TCP connection is not one of the socket\'s');
    } finally {
      await app.close();
      await transport.closeUnix();
    }
  });
});
