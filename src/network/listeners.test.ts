import assert from 'node:assert/strict';
import inspector from 'node:inspector';
import { describe, it } from 'node:test';
import type { ServiceRoute } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import { ControllerListeners } from './listeners.ts';
import { proxyRequest, startTestProxy } from './proxy/test-fixtures.ts';
import { DENY_REASON_HEADER } from './proxy/deny.ts';

const route = (url: string): ServiceRoute => ({ url, methods: ['GET'], pathPrefixes: ['/'] });
const network = (services: Record<string, ServiceRoute> = {}) => ({ subnet: '10.213.0.0/16', proxyPort: 3128, services });

describe('ControllerListeners', () => {
  it('always lists the egress proxies on every slot gateway', () => {
    assert.deepEqual(new ControllerListeners(network()).list()[0], { address: '10.213.0.0', prefix: 16, port: 3128, what: 'egress proxy' });
  });

  it('refuses at start a service that is an egress proxy, naming the service and the listener', () => {
    assert.throws(() => new ControllerListeners(network({ loop: route('http://10.213.0.1:3128/') })), (err: unknown) => {
      assert.ok(err instanceof ControlError);
      assert.equal(err.control, 'network.services');
      assert.match(err.message, /internal service "loop" \(http:\/\/10\.213\.0\.1:3128\/\) is the controller's own egress proxy listener on 10\.213\.0\.0\/16 port 3128/);
      return true;
    });
  });

  it('refuses the API when a configured service points at it (loopback, localhost, a host address via a wildcard)', () => {
    const hostAddresses = () => ['192.0.2.10'];
    for (const url of ['http://127.0.0.1:8012/', 'https://localhost:8012/', 'http://[::1]:8012', 'http://192.0.2.10:8012/api']) {
      const listeners = new ControllerListeners(network({ api: route(url) }), hostAddresses);
      assert.throws(() => listeners.add({ address: '0.0.0.0', port: 8012, what: 'API' }), /internal service "api" .* is the controller's own API listener on 0\.0\.0\.0:8012/, url);
    }
  });

  it('always counts the default API port on every local address: another controller (or a later serve) listens there', async (t) => {
    assert.throws(
      () => new ControllerListeners(network({ api: route('http://192.0.2.10:8002/') }), () => ['192.0.2.10']),
      /internal service "api" .* is the controller's own API \(default port, any airlock controller on this host\) listener on 0\.0\.0\.0:8002/,
    );
    const listeners = new ControllerListeners(network());
    const { port, close } = await startTestProxy(['127.0.0.1:8002'], { controllerListeners: () => listeners.list() });
    t.after(close);
    const res = await proxyRequest(port, 'http://127.0.0.1:8002/api/v1/sandboxes');
    assert.deepEqual([res.status, res.headers[DENY_REASON_HEADER.toLowerCase()]], [403, 'controller_listener']);
  });

  it('accepts services elsewhere; a service named by DNS is checked per request instead', () => {
    const listeners = new ControllerListeners(network({ a: route('http://127.0.0.1:9000/'), b: route('http://inference.corp.example:8002/') }));
    listeners.add({ address: '127.0.0.1', port: 8012, what: 'API' });
    assert.deepEqual(listeners.list().at(-1), { address: '127.0.0.1', port: 8012, what: 'API' });
  });

  it('lists the inspector while it is open, and the proxy refuses it (it would run any code it is sent)', async (t) => {
    const listeners = new ControllerListeners(network());
    assert.ok(!listeners.list().some((l) => l.what === 'inspector'));
    inspector.open(0, '127.0.0.1');
    t.after(() => inspector.close());
    const inspectorPort = Number(new URL(inspector.url() ?? '').port);
    assert.ok(listeners.list().some((l) => l.what === 'inspector' && l.port === inspectorPort));
    const { port, close } = await startTestProxy([`127.0.0.1:${inspectorPort}`], { controllerListeners: () => listeners.list() });
    t.after(close);
    const res = await proxyRequest(port, `http://127.0.0.1:${inspectorPort}/json/list`);
    assert.deepEqual([res.status, res.headers[DENY_REASON_HEADER.toLowerCase()]], [403, 'controller_listener']);
  });
});
