/**
 * Refusals say what to fix: 405 with `Allow` for a wrong method on a known path, 413 with the
 * limit, 415 with the content type expected, every validation problem listed in `error.details`,
 * and a control's refusal of the request (a grant) as a 4xx naming the control, never a 200 result.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROUTES, type RouteSpec } from '../../src/api/route-table.ts';
import { FAKE_REFUSED_GRANT_PREFIX } from './fake-service.ts';
import { assertError, json, makeApp } from './helpers.ts';

const ID = 's-00000000-0000-0000-0000-000000000000';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH'] as const;

describe('405 Method Not Allowed', () => {
  it('every known path asked with a method it lacks → 405 with Allow listing exactly its methods', async () => {
    const { app } = await makeApp();
    const byPath = new Map<string, Set<string>>();
    for (const spec of Object.values(ROUTES) as RouteSpec[]) {
      const path = spec.url.replace(':id', ID);
      const set = byPath.get(path) ?? new Set<string>();
      set.add(spec.method);
      if (spec.method === 'GET') set.add('HEAD');
      byPath.set(path, set);
    }
    for (const [path, allowed] of byPath) {
      for (const method of METHODS.filter((m) => !allowed.has(m))) {
        const res = await app.inject({ method, url: `${path}?path=/tmp/a` });
        assert.equal(res.statusCode, 405, `${method} ${path}: ${res.body}`);
        assert.deepEqual(String(res.headers['allow']).split(', ').sort(), [...allowed].sort(), `${method} ${path}`);
        if (method !== 'HEAD') {
          const err = assertError(res, 405, 'method_not_allowed');
          assert.match(err.message, new RegExp(`${method} is not allowed`));
        }
      }
    }
    await app.close();
  });

  it('unknown paths stay 404, and a trailing slash is not the route', async () => {
    const { app } = await makeApp();
    assertError(await app.inject({ method: 'DELETE', url: '/api/v1/nothing' }), 404, 'route_not_found');
    assertError(await app.inject({ method: 'POST', url: '/health/' }), 404, 'route_not_found');
    assertError(await app.inject({ method: 'DELETE', url: `/api/v1/sandboxes/${ID}/exec/extra` }), 404, 'route_not_found');
    await app.close();
  });
});

describe('413 and 415 say what is accepted', () => {
  it('413 on JSON routes gives the limit in bytes', async () => {
    const { app } = await makeApp({ jsonBodyLimit: 1024 });
    const err = assertError(await app.inject(json('POST', '/api/v1/sandboxes', { metadata: { pad: 'x'.repeat(2048) } })), 413, 'payload_too_large');
    assert.match(err.message, /limit 1024 bytes/);
    await app.close();
  });

  it('413 on file uploads gives the file limit', async () => {
    const { app } = await makeApp({ fileBodyLimit: 100 });
    const { sandbox_id: id } = (await app.inject(json('POST', '/api/v1/sandboxes', {}))).json() as { sandbox_id: string };
    const res = await app.inject({ method: 'PUT', url: `/api/v1/sandboxes/${id}/files?path=/tmp/a`, payload: Buffer.alloc(200), headers: { 'content-type': 'application/octet-stream' } });
    assert.match(assertError(res, 413, 'payload_too_large').message, /limit 100 bytes/);
    await app.close();
  });

  it('415 names the content type received and the one expected, in the message and in Accept', async () => {
    const { app, service } = await makeApp();
    const jsonRoute = assertError(await app.inject({ method: 'POST', url: '/api/v1/sandbox/execute', payload: 'a=1', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    assert.match(jsonRoute.message, /"text\/plain" is not accepted here; send application\/json/);
    const { sandbox_id: id } = (await app.inject(json('POST', '/api/v1/sandboxes', {}))).json() as { sandbox_id: string };
    const fileRes = await app.inject({ method: 'PUT', url: `/api/v1/sandboxes/${id}/files?path=/tmp/a`, payload: '{}', headers: { 'content-type': 'application/json' } });
    assert.match(assertError(fileRes, 415, 'unsupported_media_type').message, /application\/octet-stream/);
    const execRes = await app.inject({ method: 'POST', url: `/api/v1/sandboxes/${id}/exec`, payload: 'x', headers: { 'content-type': 'application/xml' } });
    assertError(execRes, 415, 'unsupported_media_type');
    assert.equal(execRes.headers['accept'], 'application/json');
    assert.equal(service.execs.length, 0);
    await app.close();
  });
});

describe('every validation problem is listed', () => {
  it('details lists each zod issue with its path; the message names them all', async () => {
    const { app, service } = await makeApp();
    const res = await app.inject(
      json('POST', '/api/v1/sandboxes', { runtime: 'nope', ttl_seconds: -1, limits: { cpu_limit: 'lots', memory_limit_mb: 1.5 }, environment: { A: 1 }, bogus: true }),
    );
    const err = assertError(res, 400, 'invalid_request');
    const paths = (err.details ?? []).map((d) => d.path).sort();
    for (const expected of ['body', 'body.runtime', 'body.ttl_seconds', 'body.limits.cpu_limit', 'body.limits.memory_limit_mb', 'body.environment.A']) {
      assert.ok(paths.includes(expected), `${expected} missing from ${JSON.stringify(err.details)}`);
    }
    assert.ok((err.details ?? []).some((d) => d.path === 'body' && /unknown field "bogus"/.test(d.message)), JSON.stringify(err.details));
    for (const d of err.details ?? []) assert.ok(err.message.includes(`${d.path}: ${d.message}`), `${d.path} not in the message`);
    assert.equal(service.created.length, 0);
    await app.close();
  });

  it('query and params problems are listed too; a refusal past the schema lists its problem as well', async () => {
    const { app } = await makeApp();
    const q = assertError(await app.inject({ method: 'GET', url: `/api/v1/sandboxes/${ID}/files` }), 400, 'invalid_request');
    assert.deepEqual(q.details?.map((d) => d.path), ['query.path']);
    const p = assertError(await app.inject({ method: 'GET', url: '/api/v1/sandboxes/bad!id' }), 400, 'invalid_request');
    assert.deepEqual(p.details?.map((d) => d.path), ['params.id']);
    const both = assertError(await app.inject(json('POST', '/api/v1/sandbox/execute', { agent_id: 'a', code: '1', command: ['x'] })), 400, 'invalid_request');
    assert.deepEqual(both.details, [{ path: 'body', message: 'give either code or command, not both' }]);
    await app.close();
  });

  it('every limit above its maximum is listed, not just the first', async () => {
    const { app, service } = await makeApp();
    const err = assertError(await app.inject(json('POST', '/api/v1/sandboxes', { limits: { memory_limit_mb: 99999, cpu_limit: 64, timeout_seconds: 99999 } })), 400, 'invalid_request');
    assert.deepEqual(err.details?.map((d) => d.path).sort(), ['body.limits.cpu_limit', 'body.limits.memory_limit_mb', 'body.limits.timeout_seconds']);
    for (const d of err.details ?? []) assert.match(d.message, /exceeds the maximum of/);
    const oneShot = assertError(await app.inject(json('POST', '/api/v1/sandbox/execute', { agent_id: 'a', command: ['true'], memory_limit_mb: 99999, pids_limit: 99999 })), 400, 'invalid_request');
    assert.deepEqual(oneShot.details?.map((d) => d.path).sort(), ['body.memory_limit_mb', 'body.pids_limit']);
    assert.equal(service.created.length + service.executed.length, 0);
    await app.close();
  });

  it('every bad grant is listed: malformed ones (400) first, else every refused host path (403)', async () => {
    const { app, service } = await makeApp();
    const grants = (filesystem_access: unknown[]) => json('POST', '/api/v1/sandbox/execute', { agent_id: 'a', command: ['true'], filesystem_access });
    const malformed = assertError(await app.inject(grants(['rel', '/opt', '/a/../b', '/proc/1'])), 400, 'invalid_path');
    assert.deepEqual(malformed.details?.map((d) => d.path), ['body.filesystem_access[0]', 'body.filesystem_access[2]']);
    const refused = assertError(await app.inject(grants(['/opt', '/proc/1', { host_path: '/sys/kernel', sandbox_path: '/k' }])), 403, 'filesystem_access_refused');
    assert.deepEqual(refused.details?.map((d) => d.path), ['body.filesystem_access[1]', 'body.filesystem_access[2]']);
    assert.match(refused.message, /^filesystem_access: body\.filesystem_access\[1\]: host paths under \/proc .*; filesystem_access: body\.filesystem_access\[2\]: host paths under \/sys /);
    assert.equal(service.executed.length, 0);
    await app.close();
  });

  it('problems in different fields are listed together (limits, grants, workdir, code/command)', async () => {
    const { app, service } = await makeApp();
    const body = { agent_id: 'a', code: '1', command: ['true'], memory_limit_mb: 1_000_000, filesystem_access: ['rel'], workdir: 'tmp' };
    const err = assertError(await app.inject(json('POST', '/api/v1/sandbox/execute', body)), 400);
    assert.deepEqual(err.details?.map((d) => d.path).sort(), ['body', 'body.filesystem_access[0]', 'body.memory_limit_mb', 'body.workdir']);
    const created = assertError(await app.inject(json('POST', '/api/v1/sandboxes', { limits: { pids_limit: 1_000_000 }, filesystem_access: ['/a/../b'] })), 400);
    assert.deepEqual(created.details?.map((d) => d.path).sort(), ['body.filesystem_access[0]', 'body.limits.pids_limit']);
    assert.equal(service.executed.length + service.created.length, 0, 'nothing ran, nothing was created');
    await app.close();
  });
});

describe("a control's refusal is a 4xx, never a 200 result", () => {
  it('a refused grant on execute → 403 filesystem_access_refused naming the control', async () => {
    const { app } = await makeApp();
    const res = await app.inject(json('POST', '/api/v1/sandbox/execute', { agent_id: 'a', code: '1', filesystem_access: [`${FAKE_REFUSED_GRANT_PREFIX}/x`] }));
    const err = assertError(res, 403, 'filesystem_access_refused');
    assert.match(err.message, /^filesystem_access: /);
    await app.close();
  });

  it('a refused grant on create → 403 filesystem_access_refused; nothing is created', async () => {
    const { app, service } = await makeApp();
    const res = await app.inject(json('POST', '/api/v1/sandboxes', { filesystem_access: [{ host_path: `${FAKE_REFUSED_GRANT_PREFIX}/y`, mode: 'rw' }] }));
    assertError(res, 403, 'filesystem_access_refused');
    assert.equal(service.list().length, 0);
    await app.close();
  });
});
