import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { ListenerEndpoint } from './controller-listeners.ts';
import { DENY_REASON_HEADER } from './deny.ts';
import { openConnect, proxyRequest, rawExchange, startHttpServer, startTestProxy, type TestServer } from './test-fixtures.ts';
import type { InternalService } from './types.ts';

const REASON = DENY_REASON_HEADER.toLowerCase();

/**
 * The controller's own listeners are never reachable through the proxy, whatever the allowlist or
 * the services say. `api` stands in for the controller's API: a real server the proxy is told is
 * the controller's; `bystander` is any other local server an operator may allowlist on purpose.
 */
describe('egress proxy: the controller\'s own listeners', { timeout: 30_000 }, () => {
  let api: TestServer;
  let bystander: TestServer;
  let seen: IncomingHttpHeaders[];
  let listeners: ListenerEndpoint[];
  before(async () => {
    seen = [];
    api = await startHttpServer((_req, res) => res.end('controller API'));
    bystander = await startHttpServer((req, res) => {
      seen.push(req.headers);
      res.end('bystander');
    });
    listeners = [{ address: '0.0.0.0', port: api.port, what: 'API' }];
  });
  after(async () => {
    await api.close();
    await bystander.close();
  });

  const controllerListeners = () => listeners;

  it('refuses the API allowlisted by its exact loopback literal, in every spelling, and never connects', async (t) => {
    const P = api.port;
    const { port, decisions, close } = await startTestProxy(
      [`127.0.0.1:${P}`, `127.0.0.7:${P}`, `[::ffff:127.0.0.1]:${P}`, `[::1]:${P}`, `192.0.2.10:${P}`],
      { controllerListeners, hostAddresses: () => ['192.0.2.10'] },
    );
    t.after(close);
    const targets = [`127.0.0.1:${P}`, `2130706433:${P}`, `0x7f.0.0.1:${P}`, `127.1:${P}`, `127.0.0.7:${P}`, `[::ffff:127.0.0.1]:${P}`, `[::1]:${P}`, `192.0.2.10:${P}`];
    for (const target of targets) {
      const res = await proxyRequest(port, `http://${target}/api/v1/sandboxes`);
      assert.deepEqual([res.status, res.headers[REASON]], [403, 'controller_listener'], target);
      assert.match(res.body, /refused: controller_listener/);
    }
    assert.equal(api.connections(), 0, 'the API was contacted');
    assert.equal(decisions.length, targets.length);
    assert.ok(decisions.every((d) => !d.allowed && d.reason === 'controller_listener'), JSON.stringify(decisions));
  });

  it('names the controller even when the API port is not allowlisted', async (t) => {
    const { port, close } = await startTestProxy([], { controllerListeners });
    t.after(close);
    assert.equal((await proxyRequest(port, `http://127.0.0.1:${api.port}/metrics`)).headers[REASON], 'controller_listener');
  });

  it('refuses a CONNECT tunnel to the API before answering 200', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${api.port}`], { controllerListeners });
    t.after(close);
    const { head, socket } = await openConnect(port, `127.0.0.1:${api.port}`);
    socket.destroy();
    assert.match(head, /^HTTP\/1\.1 403/);
    assert.match(head, /X-Airlock-Deny-Reason: controller_listener/);
    assert.equal(decisions[0]?.reason, 'controller_listener');
    assert.equal(api.connections(), 0);
  });

  it('refuses a name that resolves to the API, after the lookup (plain HTTP and CONNECT)', async (t) => {
    // loopbackIsPublic: even where 127.0.0.1 passes the address classes, the listener check holds.
    const { port, decisions, close } = await startTestProxy([`api.example.com:${api.port}`], {
      controllerListeners, resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    }, true);
    t.after(close);
    const res = await proxyRequest(port, `http://api.example.com:${api.port}/`);
    assert.deepEqual([res.status, res.headers[REASON]], [403, 'controller_listener']);
    const { head, socket } = await openConnect(port, `api.example.com:${api.port}`);
    socket.destroy();
    assert.match(head, /X-Airlock-Deny-Reason: controller_listener/);
    assert.deepEqual(decisions.map((d) => [d.reason, d.address]), [['controller_listener', '127.0.0.1'], ['controller_listener', '127.0.0.1']]);
    assert.equal(api.connections(), 0);
  });

  it('refuses the proxy\'s own listener (a request looping back into the proxy), with no listener declared', async (t) => {
    const { port, close } = await startTestProxy([], { controllerListeners: () => [] });
    t.after(close);
    const res = await rawExchange(port, `GET http://127.0.0.1:${port}/ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 403/);
    assert.match(res, /X-Airlock-Deny-Reason: controller_listener/);
  });

  it('still reaches another local server the operator allowlisted by its exact literal', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${bystander.port}`], { controllerListeners });
    t.after(close);
    const res = await proxyRequest(port, `http://127.0.0.1:${bystander.port}/`);
    assert.deepEqual([res.status, res.body], [200, 'bystander']);
    assert.equal(decisions[0]?.reason, 'allowlisted');
  });

  it('refuses an internal service whose name resolves to the API, after the lookup', async (t) => {
    const services: InternalService[] = [{ name: 'inference', url: new URL(`http://inference.corp.example:${api.port}/`), methods: ['GET'], pathPrefixes: ['/'] }];
    const { port, decisions, close } = await startTestProxy([], {
      controllerListeners, services, resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    t.after(close);
    const res = await proxyRequest(port, 'http://inference.airlock.internal/v1');
    assert.deepEqual([res.status, res.headers[REASON]], [403, 'controller_listener']);
    assert.deepEqual([decisions[0]?.kind, decisions[0]?.reason], ['service', 'controller_listener']);
    assert.equal(api.connections(), 0);
  });

  it('strips Forwarded, X-Forwarded-* and X-Real-IP before forwarding and adds none of its own', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${bystander.port}`], { controllerListeners });
    t.after(close);
    seen.length = 0;
    const res = await proxyRequest(port, `http://127.0.0.1:${bystander.port}/`, {
      headers: {
        forwarded: 'for=127.0.0.1', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': 'admin.internal',
        'x-forwarded-proto': 'https', 'x-real-ip': '127.0.0.1', 'true-client-ip': '127.0.0.1', 'x-kept': 'yes',
      },
    });
    assert.equal(res.status, 200);
    const headers = seen[0] ?? {};
    assert.equal(headers['x-kept'], 'yes');
    for (const name of ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-real-ip', 'true-client-ip', 'via']) {
      assert.equal(headers[name], undefined, name);
    }
  });
});
