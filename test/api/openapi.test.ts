import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { buildApp } from '../../src/api/app.ts';
import { OPENAPI_PATH, openApiPath, renderOpenApi } from '../../src/api/openapi.ts';
import { ROUTES, type RouteSpec } from '../../src/api/route-table.ts';
import { FakeService } from './fake-service.ts';
import { createLoopbackAccess } from '../../src/admission/loopback-access.ts';

describe('OpenAPI document', () => {
  it('the committed docs/openapi.json equals the generated one (regenerate: node src/api/openapi.ts --write)', () => {
    assert.equal(readFileSync(OPENAPI_PATH, 'utf8'), renderOpenApi());
  });

  it('GET /openapi.json serves the same document', async () => {
    const app = buildApp({ service: new FakeService(), access: await createLoopbackAccess() });
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), JSON.parse(renderOpenApi()));
  });

  it('documents exactly the routes the server registers', async () => {
    const app = buildApp({ service: new FakeService(), access: await createLoopbackAccess() });
    await app.ready();
    const documented = (Object.values(ROUTES) as RouteSpec[]).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(registeredRoutes(app.printRoutes({ commonPrefix: false })).sort(), documented.sort());
    const doc = JSON.parse(renderOpenApi());
    for (const r of Object.values(ROUTES) as RouteSpec[]) assert.ok(doc.paths[openApiPath(r.url)][r.method.toLowerCase()], r.url);
  });

  it('every $ref resolves', () => {
    const text = renderOpenApi();
    const doc = JSON.parse(text);
    for (const m of text.matchAll(/"\$ref": "#\/components\/(schemas|headers)\/([A-Za-z]+)"/g)) {
      assert.ok(doc.components[m[1] as string][m[2] as string], m[0]);
    }
  });
});

/** `METHOD /path` for every route in Fastify's printRoutes tree (HEAD left out: Fastify adds it to GETs). */
function registeredRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^(.*?)[├└]── (\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (m === null) continue;
    const depth = (m[1] ?? '').length / 4;
    stack.length = depth;
    stack.push(m[2] ?? '');
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') out.push(`${method} ${stack.join('')}`);
  }
  return out;
}
