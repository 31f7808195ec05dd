/**
 * `host.airlock.internal:PORT`: the host's loopback as a restricted sandbox names it. Reached only
 * with an allowlist entry of that name and port, never through DNS or another entry, never onto a
 * controller listener; the proxy's refusal of a loopback address names it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkAllowEntry } from './allow-entry.ts';
import { findService } from './services.ts';
import { openConnect, proxyRequest, startHttpServer, startTestProxy } from './test-fixtures.ts';

describe('host.airlock.internal', () => {
  it('is an allowlist entry with a port only; other airlock.internal names stay refused and say what to use', () => {
    const entry = checkAllowEntry('host.airlock.internal:8080');
    assert.ok(entry.ok);
    assert.deepEqual(entry.rule.ports, [8080]);
    assert.deepEqual(checkAllowEntry('host.airlock.internal'), { ok: false, reason: 'host.airlock.internal needs the port of the host service ("host.airlock.internal:8080")' });
    const other = checkAllowEntry('db.airlock.internal:5432');
    assert.ok(!other.ok && /host\.airlock\.internal:PORT/.test(other.reason));
    // Not a configured service: a service named "host" can't shadow it, and it never answers unknown_service.
    assert.deepEqual(findService([], 'host.airlock.internal', 8080), { kind: 'none' });
  });

  it('reaches the host loopback at the allowlisted port, over HTTP and CONNECT, and nothing else', async () => {
    const upstream = await startHttpServer((req, res) => res.end(`host service ${req.url ?? ''}`));
    const other = await startHttpServer((_req, res) => res.end('other'));
    const { port, decisions, close } = await startTestProxy([`host.airlock.internal:${upstream.port}`]);
    try {
      const ok = await proxyRequest(port, `http://host.airlock.internal:${upstream.port}/v1/x`);
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.body, 'host service /v1/x');
      assert.deepEqual([decisions.at(-1)?.allowed, decisions.at(-1)?.address], [true, '127.0.0.1']);
      const tunnel = await openConnect(port, `host.airlock.internal:${upstream.port}`);
      tunnel.socket.destroy();
      assert.match(tunnel.head, /^HTTP\/1\.1 200/);
      // Another port of the host is not allowed by that entry.
      const refused = await proxyRequest(port, `http://host.airlock.internal:${other.port}/`);
      assert.equal(refused.status, 403);
      assert.equal(refused.headers['x-airlock-deny-reason'], 'not_allowlisted');
    } finally {
      await close();
      await upstream.close();
      await other.close();
    }
  });

  it('never opens a controller listener; a loopback address is refused naming host.airlock.internal', async () => {
    const controller = await startHttpServer((_req, res) => res.end('controller'));
    const { port, close } = await startTestProxy([`host.airlock.internal:${controller.port}`], {
      controllerListeners: () => [{ address: '127.0.0.1', port: controller.port, what: 'api' }],
    });
    try {
      const res = await proxyRequest(port, `http://host.airlock.internal:${controller.port}/`);
      assert.equal(res.status, 403);
      assert.equal(res.headers['x-airlock-deny-reason'], 'controller_listener');
      const literal = await proxyRequest(port, `http://127.0.0.1:${controller.port + 1}/`);
      assert.equal(literal.headers['x-airlock-deny-reason'], 'loopback_address');
      assert.match(literal.body, new RegExp(`reached as host\\.airlock\\.internal:${controller.port + 1}`));
    } finally {
      await close();
      await controller.close();
    }
  });
});
