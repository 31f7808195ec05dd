/**
 * Over a real TCP listener, a gated request at the cap is refused before Fastify, with exactly the
 * app's 429 (envelope, request id, Retry-After, metrics); a request for a name not listed still
 * gets the host check's 421, and one with an Origin goes through the app's own hook.
 */
import { request } from 'node:http';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AirlockMetrics } from '../../src/observability/metrics.ts';
import { makeApp } from './helpers.ts';

const EXECUTE = '/api/v1/sandbox/execute';
const BODY = JSON.stringify({ agent_id: 'a', command: ['sleep', '30'] });

/** Status of a POST sent with `host` as its Host header (fetch sets Host itself). */
function statusWithHost(address: string, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${address}${path}`, { method: 'POST', headers: { host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) } }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(BODY);
  });
}

describe('429 before Fastify at the cap', () => {
  it('answers the app\'s 429 over TCP; a listed Host only; an Origin goes to the app', async () => {
    const metrics = new AirlockMetrics();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, done) => void (lines.push(String(chunk)), done()) }));
    const { app, service } = await makeApp({ maxInflight: 1, metrics, logger });
    service.executeHangs = true;
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const post = (path: string, headers: Record<string, string> = {}) => fetch(`${address}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY });
    try {
      const pending = post(EXECUTE);
      while (service.executed.length === 0) await new Promise((r) => setTimeout(r, 5));

      for (const path of [EXECUTE, '/api/v1/sandboxes', '/api/v1/sandboxes/s-1/exec', `${EXECUTE}?x=1`]) {
        const res = await post(path);
        assert.equal(res.status, 429, path);
        assert.equal(res.headers.get('retry-after'), '1');
        assert.match(String(res.headers.get('content-type')), /^application\/json/);
        const body = (await res.json()) as { error: { code: string; request_id: string; message: string } };
        assert.equal(body.error.code, 'capacity_exceeded');
        assert.equal(body.error.request_id, res.headers.get('x-request-id'));
        assert.match(body.error.message, /limit 1/);
      }
      assert.equal(service.executed.length, 1, 'no refused request reached the service');
      // Answered before Fastify: the app logged no request for them (it logs each one it handles).
      assert.equal(lines.filter((l) => l.includes('request refused')).length, 0, lines.join(''));
      const exposition = await metrics.registry.metrics();
      assert.match(exposition, /airlock_http_requests_total\{[^}]*route="\/api\/v1\/sandbox\/execute"[^}]*status="429"[^}]*\} 2/);

      // Why: DNS rebinding; the host check's 421 comes before anything else, the cap included.
      assert.equal(await statusWithHost(address, EXECUTE, 'evil.example'), 421);
      // With an Origin the app answers (its CORS plugin owns those headers): still 429, still the envelope.
      const cross = await post(EXECUTE, { origin: 'https://app.example' });
      assert.equal(cross.status, 429);
      assert.equal(((await cross.json()) as { error: { code: string } }).error.code, 'capacity_exceeded');
      // Routes that take no slot are unaffected.
      assert.equal((await fetch(`${address}/health`)).status, 200);

      const [entry] = service.status().active_sandboxes;
      if (entry !== undefined) await fetch(`${address}/api/v1/sandbox/executions/${entry.execution_id}`, { method: 'DELETE' });
      assert.equal((await pending).status, 200);
      // Below the cap again: admitted as usual.
      service.executeHangs = false;
      assert.equal((await post(EXECUTE)).status, 200);
    } finally {
      for (const entry of service.status().active_sandboxes) await app.inject({ method: 'DELETE', url: `/api/v1/sandbox/executions/${entry.execution_id}` });
      await app.close();
    }
  });
});
