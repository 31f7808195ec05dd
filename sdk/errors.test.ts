import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockClient } from './client.ts';
import {
  AirlockError,
  ControlRefusedError,
  errorFromEnvelope,
  FileNotFoundError,
  InvalidRequestError,
  NetworkError,
  parseRetryAfter,
  PolicyMismatchError,
  RateLimitError,
  SandboxNotFoundError,
  SandboxNotRunningError,
  ServiceUnavailableError,
  TimeoutError,
} from './errors.ts';
import { envelope, fakeFetch } from './testing/fake-fetch.ts';
import { SERVICE_ERROR_CODES, type ServiceErrorCode } from '../src/sandbox/errors.ts';
import { errorStatus } from '../src/api/error-codes.ts';

describe('error mapping', () => {
  it('maps every service error code (src/sandbox/errors.ts) and the API codes to a class', () => {
    const cases: Array<[string, number, new (...args: never[]) => AirlockError]> = [
      ['invalid_request', 400, InvalidRequestError],
      ['policy_mismatch', 409, PolicyMismatchError],
      ['sandbox_not_found', 404, SandboxNotFoundError],
      ['sandbox_not_running', 409, SandboxNotRunningError],
      ['file_not_found', 404, FileNotFoundError],
      ['invalid_path', 400, InvalidRequestError],
      ['payload_too_large', 413, InvalidRequestError],
      ['runtime_unavailable', 400, InvalidRequestError],
      ['image_not_found', 400, InvalidRequestError],
      ['capacity_exceeded', 429, RateLimitError],
      ['control_failed', 503, ServiceUnavailableError],
      ['shutting_down', 503, ServiceUnavailableError],
      ['not_supported', 400, InvalidRequestError],
      ['invalid_json', 400, InvalidRequestError],
      ['unsupported_media_type', 415, InvalidRequestError],
      ['method_not_allowed', 405, InvalidRequestError],
      ['host_not_allowed', 421, InvalidRequestError],
      ['filesystem_access_refused', 403, ControlRefusedError],
      ['workdir_refused', 403, ControlRefusedError],
      ['route_not_found', 404, AirlockError],
      ['internal_error', 500, AirlockError],
      ['something_new', 400, InvalidRequestError],
    ];
    for (const [code, status, Class] of cases) {
      const err = errorFromEnvelope({ code, message: `m ${code}`, request_id: 'r-1' }, status);
      assert.equal(err.constructor, Class, code);
      assert.ok(err instanceof AirlockError);
      assert.equal(err.name, Class.name);
      assert.deepEqual([err.code, err.status, err.requestId, err.message], [code, status, 'r-1', `m ${code}`]);
    }
  });

  it('has a specific class for every code the service can raise (no drift from src/sandbox/errors.ts)', () => {
    for (const code of Object.keys(SERVICE_ERROR_CODES) as ServiceErrorCode[]) {
      const err = errorFromEnvelope({ code, message: 'm' }, errorStatus(code));
      assert.notEqual(err.constructor, AirlockError, `${code} maps only to the base class`);
    }
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    assert.equal(parseRetryAfter('7'), 7);
    assert.equal(parseRetryAfter(' 0 '), 0);
    assert.equal(parseRetryAfter(new Date(60_000).toUTCString(), 30_000), 30);
    assert.equal(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT', 30_000), 0);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(null), undefined);
    const err = errorFromEnvelope({ code: 'capacity_exceeded', message: 'full' }, 429, '3');
    assert.ok(err instanceof RateLimitError);
    assert.equal(err.retryAfter, 3);
  });
});

describe('AirlockClient over a fake fetch', () => {
  it('sends snake_case JSON to the right URL and returns the parsed answer', async () => {
    const { fetch, requests } = fakeFetch({ status: 201, json: { sandbox_id: 's-1' } });
    const client = new AirlockClient({ baseUrl: 'http://h:1/', fetch, headers: { authorization: 'Bearer t' } });
    const info = await client.createSandbox({ ttl_seconds: 60, limits: { memory_limit_mb: 128 } });
    assert.equal(info.sandbox_id, 's-1');
    const [req] = requests;
    assert.equal(req?.url, 'http://h:1/api/v1/sandboxes');
    assert.equal(req?.method, 'POST');
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.headers['authorization'], 'Bearer t');
    assert.deepEqual(JSON.parse(String(req?.body)), { ttl_seconds: 60, limits: { memory_limit_mb: 128 } });
  });

  it('escapes ids and paths', async () => {
    const { fetch, requests } = fakeFetch({ json: { path: '/tmp', entries: [] } });
    await new AirlockClient({ fetch }).listFiles('a/b', '/tmp/x y&z');
    assert.equal(requests[0]?.url, 'http://127.0.0.1:8002/api/v1/sandboxes/a%2Fb/files/list?path=%2Ftmp%2Fx+y%26z');
  });

  it('throws the typed error of the envelope, with status and request id', async () => {
    const { fetch } = fakeFetch({ status: 404, json: envelope('sandbox_not_found', 'no sandbox s-9', 'req-abcdefgh') });
    await assert.rejects(new AirlockClient({ fetch }).getSandbox('s-9'), (err: unknown) => {
      assert.ok(err instanceof SandboxNotFoundError);
      assert.deepEqual([err.status, err.code, err.requestId, err.message], [404, 'sandbox_not_found', 'req-abcdefgh', 'no sandbox s-9']);
      return true;
    });
  });

  it('429 → RateLimitError with retryAfter from the header', async () => {
    const { fetch } = fakeFetch({ status: 429, headers: { 'retry-after': '5' }, json: envelope('capacity_exceeded') });
    await assert.rejects(new AirlockClient({ fetch }).execute({ agent_id: 'a', code: 'print(1)' }), (err: unknown) => {
      assert.ok(err instanceof RateLimitError);
      assert.equal(err.retryAfter, 5);
      assert.equal(err.status, 429);
      return true;
    });
  });

  it('a body that is not an envelope still gives a typed error with the status', async () => {
    const { fetch } = fakeFetch({ status: 502, headers: { 'x-request-id': 'proxy-1234' }, text: '<html>Bad Gateway</html>' });
    await assert.rejects(new AirlockClient({ fetch }).health(), (err: unknown) => {
      assert.ok(err instanceof AirlockError);
      assert.equal(err.code, 'http_502');
      assert.equal(err.requestId, 'proxy-1234');
      assert.match(err.message, /^HTTP 502.*Bad Gateway/);
      return true;
    });
    const { fetch: f503 } = fakeFetch({ status: 503, text: '' });
    await assert.rejects(new AirlockClient({ fetch: f503 }).health(), ServiceUnavailableError);
  });

  it('a refused connection → NetworkError naming the request', async () => {
    const fetch = async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    };
    await assert.rejects(new AirlockClient({ fetch }).listSandboxes(), (err: unknown) => {
      assert.ok(err instanceof NetworkError);
      assert.equal(err.code, 'network_error');
      assert.match(err.message, /GET \/api\/v1\/sandboxes: fetch failed/);
      return true;
    });
  });

  it('a server that does not answer in time → TimeoutError; a caller abort → the abort reason', async () => {
    const { fetch } = fakeFetch({ hang: true });
    await assert.rejects(new AirlockClient({ fetch, requestTimeoutMs: 30 }).health(), (err: unknown) => err instanceof TimeoutError && err.code === 'timeout');
    const controller = new AbortController();
    const pending = new AirlockClient({ fetch }).health({ signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await assert.rejects(pending, /caller gave up/);
  });

  it('refuses a baseUrl that is not http(s)', () => {
    assert.throws(() => new AirlockClient({ baseUrl: 'not a url' }), (err: unknown) => err instanceof AirlockError && err.code === 'invalid_argument');
    assert.throws(() => new AirlockClient({ baseUrl: 'file:///etc' }), /must be http or https/);
  });

  it('writes files as raw bytes with an octal mode, and reads them back as bytes', async () => {
    const { fetch, requests } = fakeFetch({ json: { path: '/tmp/f', size: 3 } }, { text: 'abc' });
    const client = new AirlockClient({ fetch });
    assert.deepEqual(await client.writeFile('s-1', '/tmp/f', new Uint8Array([1, 2, 3]), { mode: 0o640 }), { path: '/tmp/f', size: 3 });
    assert.equal(requests[0]?.method, 'PUT');
    assert.equal(requests[0]?.url, 'http://127.0.0.1:8002/api/v1/sandboxes/s-1/files?path=%2Ftmp%2Ff&mode=640');
    assert.equal(requests[0]?.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(requests[0]?.body, new Uint8Array([1, 2, 3]));
    assert.deepEqual(await client.readFile('s-1', '/tmp/f'), new TextEncoder().encode('abc'));
  });
});
