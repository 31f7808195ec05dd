/**
 * The OpenAPI 3.1 document, generated from the route table and its zod schemas with
 * `z.toJSONSchema` (the same objects the routes validate with). Served at `GET /openapi.json` and
 * committed as docs/openapi.json; a test fails when the two differ.
 *
 * Regenerate: `node src/api/openapi.ts --write`; check: `node src/api/openapi.ts --check`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import pkg from '../../package.json' with { type: 'json' };
import { COMPONENTS, ROUTES, type RouteSpec } from './route-table.ts';

type Json = Record<string, unknown>;

/** Where the committed document lives. */
export const OPENAPI_PATH = fileURLToPath(new URL('../../docs/openapi.json', import.meta.url));

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Refused: malformed or wrongly typed body, unknown field, out-of-range value, invalid id or path, unsupported option. Every problem is listed in error.details.',
  403: 'Refused by a control before anything ran; the code names it (filesystem_access_refused: a host path that may not be granted).',
  404: 'No such sandbox, no such file in it, or no such running execution (execution_not_found).',
  409: 'Policy hash mismatch, the sandbox is not running (also when it ends while the request is under way), or the execution has already ended (execution_not_running).',
  413: 'Body larger than this route accepts; the message gives the limit in bytes.',
  415: 'Content-Type not accepted by this route; the message and the Accept header name the one expected.',
  421: 'host_not_allowed: the Host header is not one this server answers to (service.allowedHosts; DNS-rebinding guard). Answered before routing on every path.',
  429: 'Concurrency cap reached; retry after the Retry-After header (seconds).',
  503: 'A hardening control could not be applied, or the service is shutting down.',
};

const REF = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function strip(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function componentsFromZod(): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { target: 'draft-2020-12', io: 'input', uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, Json> };
  return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, strip(s)]));
}

function schemaOf(schema: z.ZodType): Json {
  const name = Object.entries(COMPONENTS).find(([, s]) => s === schema)?.[0];
  return name !== undefined ? REF(name) : strip(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Json);
}

function parameters(spec: RouteSpec): Json[] {
  const out: Json[] = [];
  for (const [where, obj] of [['path', spec.params], ['query', spec.query]] as const) {
    if (obj === undefined) continue;
    for (const [name, field] of Object.entries(obj.shape) as [string, z.ZodType][]) {
      const param: Json = { name, in: where, required: where === 'path' || !field.safeParse(undefined).success, schema: schemaOf(field) };
      if (field.description !== undefined) param['description'] = field.description;
      out.push(param);
    }
  }
  for (const h of spec.headers ?? []) {
    out.push({ name: h.name, in: 'header', required: false, description: h.description, schema: { type: 'string', ...(h.pattern ? { pattern: h.pattern } : {}) } });
  }
  return out;
}

function responseContent(contentType: string, spec: RouteSpec['responses'][number]): Json {
  if (contentType === 'application/octet-stream') return { schema: { type: 'string', format: 'binary' } };
  if (contentType === 'text/plain') return { schema: { type: 'string' } };
  if ((contentType === 'application/x-ndjson' || contentType === 'text/event-stream') && spec.frameSchema !== undefined) {
    return { schema: schemaOf(spec.frameSchema), description: 'Each line (NDJSON) or event (SSE) is one frame.' };
  }
  return spec.schema !== undefined ? { schema: schemaOf(spec.schema) } : { schema: { type: 'object' } };
}

function operation(spec: RouteSpec): Json {
  const responses: Json = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    const types = r.contentTypes ?? ['application/json'];
    const headers: Json = { 'x-request-id': { $ref: '#/components/headers/RequestId' } };
    for (const h of r.headers ?? []) headers[h.name] = { description: h.description, schema: { type: 'string' } };
    responses[status] = {
      description: r.description,
      headers,
      content: Object.fromEntries(types.map((t) => [t, responseContent(t, r)])),
    };
  }
  // The Host check answers before routing, on every route.
  for (const status of [...spec.errors, 421]) {
    const headers: Json = { 'x-request-id': { $ref: '#/components/headers/RequestId' } };
    if (status === 429) headers['retry-after'] = { $ref: '#/components/headers/RetryAfter' };
    responses[String(status)] = { description: ERROR_DESCRIPTIONS[status] ?? 'Refused.', headers, content: { 'application/json': { schema: REF('ErrorEnvelope') } } };
  }
  responses['default'] = { description: 'Internal error (logged server-side; quote the request id).', content: { 'application/json': { schema: REF('ErrorEnvelope') } } };
  const op: Json = { operationId: spec.operationId, summary: spec.summary, tags: [spec.tag] };
  const params = parameters(spec);
  if (params.length > 0) op['parameters'] = params;
  if (spec.body !== undefined) {
    const schema = spec.body.schema !== undefined ? schemaOf(spec.body.schema) : { type: 'string', format: 'binary' };
    op['requestBody'] = { required: true, ...(spec.body.description ? { description: spec.body.description } : {}), content: { [spec.body.contentType]: { schema } } };
  }
  op['responses'] = responses;
  return op;
}

/** Fastify `:param` → OpenAPI `{param}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

/** Builds the whole document. Deterministic: same schemas, same bytes. */
export function buildOpenApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const spec of Object.values(ROUTES) as RouteSpec[]) {
    const path = openApiPath(spec.url);
    paths[path] = { ...(paths[path] ?? {}), [spec.method.toLowerCase()]: operation(spec) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'airlock control plane',
      version: pkg.version,
      description:
        'Runs untrusted code in hardened, isolated sandboxes. Every refusal is {"error": {"code", "message", "request_id"}} (plus "details", a list of {path, message}, for validation errors) with a 4xx status. ' +
        'A request whose Host header is not listed in service.allowedHosts gets 421 host_not_allowed; a known path asked with another method gets 405 method_not_allowed with an Allow header.',
    },
    servers: [{ url: 'http://127.0.0.1:8002' }],
    tags: [
      { name: 'sandbox', description: 'One-shot execution (seed-compatible).' },
      { name: 'sandboxes', description: 'Persistent sandboxes.' },
      { name: 'files', description: 'Files inside a persistent sandbox.' },
      { name: 'approvals', description: 'Signed approvals of requests that policy sends to a human.' },
      { name: 'revocations', description: 'Revoked agents and signed revocation lists (operators).' },
      { name: 'contracts', description: 'Behavior contracts of agents (operators).' },
      { name: 'service', description: 'Health, metrics, this document.' },
    ],
    paths,
    components: {
      schemas: componentsFromZod(),
      headers: {
        RequestId: { description: 'Id of this request; also in the error envelope and the logs.', schema: { type: 'string' } },
        RetryAfter: { description: 'Seconds to wait before retrying.', schema: { type: 'integer', minimum: 1 } },
      },
    },
  };
}

/** The document as committed: two-space JSON and a final newline. */
export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = renderOpenApi();
  if (process.argv.includes('--write')) {
    writeFileSync(OPENAPI_PATH, text);
    process.stdout.write(`wrote ${OPENAPI_PATH}\n`);
  } else if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(OPENAPI_PATH, 'utf8');
    } catch {
      // A missing file is a difference like any other.
    }
    if (committed !== text) {
      process.stderr.write(`${OPENAPI_PATH} is out of date: run node src/api/openapi.ts --write\n`);
      process.exitCode = 1;
    }
  } else {
    process.stdout.write(text);
  }
}
