import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SERVICE_ERROR_CODES, ServiceError, type ServiceErrorCode } from '../sandbox/errors.ts';
import { ERROR_CODES, errorCodeList, errorStatus } from './error-codes.ts';
import { ApiError, mapError } from './errors.ts';
import { buildOpenApiDocument } from './openapi.ts';

const serviceCodes = Object.keys(SERVICE_ERROR_CODES) as ServiceErrorCode[];

describe('the error-code list', () => {
  it('gives every service code a 4xx or 5xx status, and the API answers a ServiceError with it', () => {
    for (const code of serviceCodes) {
      const status = errorStatus(code);
      assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
      const mapped = mapError(new ServiceError(code, 'm'));
      assert.deepEqual([mapped.status, mapped.code], [status, code]);
    }
  });

  it('keeps the statuses the API has always answered with', () => {
    const expected: Record<string, number> = {
      invalid_request: 400,
      policy_mismatch: 409,
      sandbox_not_found: 404,
      sandbox_not_running: 409,
      execution_not_found: 404,
      execution_not_running: 409,
      file_not_found: 404,
      invalid_path: 400,
      payload_too_large: 413,
      runtime_unavailable: 400,
      image_not_found: 400,
      secret_not_found: 400,
      capacity_exceeded: 429,
      filesystem_access_refused: 403,
      workdir_refused: 403,
      image_refused: 403,
      control_failed: 503,
      shutting_down: 503,
    };
    assert.deepEqual(Object.fromEntries(serviceCodes.map((code) => [code, errorStatus(code)])), expected);
  });

  it("takes an ApiError's status from its code", () => {
    assert.equal(new ApiError('capacity_exceeded', 'm').status, 429);
    assert.equal(new ApiError('unsupported_media_type', 'm').status, 415);
    assert.equal(mapError(new ApiError('policy_mismatch', 'm')).status, 409);
  });

  it('answers a capped ServiceError with Retry-After', () => {
    assert.equal(mapError(new ServiceError('capacity_exceeded', 'm')).headers['retry-after'], '1');
    assert.equal(mapError(new ServiceError('capacity_exceeded', 'm', { retryAfterSeconds: 4.2 })).headers['retry-after'], '5');
    assert.equal(mapError(new ServiceError('sandbox_not_found', 'm')).headers['retry-after'], undefined);
  });

  it('is the list the OpenAPI document gives for the envelope code, every code once', () => {
    const doc = JSON.stringify(buildOpenApiDocument());
    for (const line of errorCodeList()) assert.ok(doc.includes(JSON.stringify(`- ${line}`).slice(1, -1)), line);
    assert.equal(errorCodeList().length, Object.keys(ERROR_CODES).length);
  });
});
