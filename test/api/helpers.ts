/** Shared helpers of the HTTP-layer tests. */
import assert from 'node:assert/strict';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp, type AppOptions } from '../../src/api/app.ts';
import { FakeService } from './fake-service.ts';
import { createLoopbackAccess } from '../../src/admission/loopback-access.ts';

/** A fresh app in front of a fresh fake service. */
export async function makeApp(options: Partial<AppOptions> = {}): Promise<{ app: FastifyInstance; service: FakeService }> {
  const service = (options.service as FakeService | undefined) ?? new FakeService();
  const app = buildApp({ ...options, service, access: options.access ?? (await createLoopbackAccess()) });
  await app.ready();
  return { app, service };
}

/** The fields of the error envelope. */
export interface ErrorFields {
  code: string;
  message: string;
  request_id: string;
  details?: Array<{ path: string; message: string }>;
}

/** Asserts the error envelope, its status and code, and that request ids agree. */
export function assertError(res: LightMyRequestResponse, status: number, code?: string): ErrorFields {
  assert.equal(res.statusCode, status, `expected ${status}, got ${res.statusCode}: ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { error: ErrorFields };
  assert.deepEqual(Object.keys(body), ['error']);
  // The envelope's three fields always; `details` (every problem) only where there are problems to list.
  assert.deepEqual(Object.keys(body.error).filter((k) => k !== 'details').sort(), ['code', 'message', 'request_id']);
  if (body.error.details !== undefined) {
    assert.ok(body.error.details.length > 0);
    for (const d of body.error.details) assert.deepEqual(Object.keys(d).sort(), ['message', 'path']);
  }
  if (code !== undefined) assert.equal(body.error.code, code, body.error.message);
  assert.equal(body.error.request_id, res.headers['x-request-id']);
  assert.doesNotMatch(res.body, /at .*\.ts:\d+/, 'no stack traces in responses');
  return body.error;
}

/** POST/PUT JSON helper. */
export function json(method: 'POST' | 'PUT', url: string, payload: unknown, headers: Record<string, string> = {}) {
  return { method, url, payload: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } } as const;
}
