import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertError, json, makeApp } from './helpers.ts';

async function withSandbox(options: Parameters<typeof makeApp>[0] = {}) {
  const made = await makeApp(options);
  const id = (await made.app.inject(json('POST', '/api/v1/sandboxes', {}))).json().sandbox_id as string;
  return { ...made, id, files: `/api/v1/sandboxes/${id}/files` };
}

const put = (url: string, payload: Buffer | string, contentType = 'application/octet-stream') => ({ method: 'PUT' as const, url, payload, headers: { 'content-type': contentType } });

describe('files', () => {
  it('PUT raw bytes, GET them back, list the directory', async () => {
    const { app, service, id, files } = await withSandbox();
    const bytes = Buffer.from([0, 1, 2, 255]);
    const written = await app.inject(put(`${files}?path=/tmp/data.bin&mode=0640`, bytes));
    assert.equal(written.statusCode, 200, written.body);
    assert.deepEqual(written.json(), { path: '/tmp/data.bin', size: 4 });
    assert.equal(service.fileModes.get(`${id}:/tmp/data.bin`), 0o640);

    const read = await app.inject({ method: 'GET', url: `${files}?path=/tmp/data.bin` });
    assert.equal(read.statusCode, 200);
    assert.equal(read.headers['content-type'], 'application/octet-stream');
    assert.equal(read.headers['x-content-type-options'], 'nosniff');
    assert.deepEqual(read.rawPayload, bytes);

    const list = await app.inject({ method: 'GET', url: `${files}/list?path=/tmp` });
    assert.equal(list.statusCode, 200, list.body);
    assert.equal(list.json().path, '/tmp');
    assert.deepEqual(list.json().entries.map((e: { path: string }) => e.path), ['/tmp/data.bin']);

    assert.equal((await app.inject(put(`${files}?path=/tmp/empty`, Buffer.alloc(0)))).json().size, 0);
  });

  it('refuses escaping and malformed paths with invalid_path before the service sees them', async () => {
    const { app, service, files } = await withSandbox();
    for (const path of ['relative', '/tmp/../etc/passwd', '..', '/a/..', '/x%00y', `/${'a'.repeat(5000)}`]) {
      const q = `?path=${path}`;
      const expected = path.length > 4096 ? 'invalid_request' : 'invalid_path';
      assertError(await app.inject({ method: 'GET', url: `${files}${q}` }), 400, expected);
      assertError(await app.inject({ method: 'GET', url: `${files}/list${q}` }), 400, expected);
      assertError(await app.inject(put(`${files}${q}`, 'x')), 400, expected);
    }
    assert.equal(service.files.size, 0);
  });

  it('refuses missing/duplicated/unknown query parameters and bad modes', async () => {
    const { app, files } = await withSandbox();
    for (const q of ['', '?path=/a&path=/b', '?path=/a&extra=1']) assertError(await app.inject({ method: 'GET', url: `${files}${q}` }), 400, 'invalid_request');
    for (const mode of ['4755', '999', 'rw', '0o644']) assertError(await app.inject(put(`${files}?path=/tmp/a&mode=${mode}`, 'x')), 400, 'invalid_request');
  });

  it('PUT accepts only application/octet-stream; other routes do not accept it', async () => {
    const { app, files } = await withSandbox();
    assertError(await app.inject(put(`${files}?path=/tmp/a`, '{"a":1}', 'application/json')), 415, 'unsupported_media_type');
    assertError(await app.inject(put(`${files}?path=/tmp/a`, 'hello', 'text/plain')), 415, 'unsupported_media_type');
    assertError(await app.inject({ method: 'PUT', url: `${files}?path=/tmp/a` }), 415, 'unsupported_media_type');
    const res = await app.inject({ method: 'POST', url: '/api/v1/sandbox/execute', payload: Buffer.from('{}'), headers: { 'content-type': 'application/octet-stream' } });
    assertError(res, 415, 'unsupported_media_type');
  });

  it('PUT bodies above the file limit are 413', async () => {
    const { app, files } = await withSandbox({ fileBodyLimit: 1024 });
    assertError(await app.inject(put(`${files}?path=/tmp/a`, Buffer.alloc(2048))), 413, 'payload_too_large');
    assert.equal((await app.inject(put(`${files}?path=/tmp/a`, Buffer.alloc(1024)))).statusCode, 200);
  });

  it('unknown sandbox → 404, missing file → 404, ended sandbox → 409', async () => {
    const { app, id, files } = await withSandbox();
    assertError(await app.inject({ method: 'GET', url: '/api/v1/sandboxes/s-nope/files?path=/a' }), 404, 'sandbox_not_found');
    assertError(await app.inject(put('/api/v1/sandboxes/s-nope/files?path=/a', 'x')), 404, 'sandbox_not_found');
    assertError(await app.inject({ method: 'GET', url: '/api/v1/sandboxes/s-nope/files/list?path=/' }), 404, 'sandbox_not_found');
    assertError(await app.inject({ method: 'GET', url: `${files}?path=/nope` }), 404, 'file_not_found');
    await app.inject({ method: 'DELETE', url: `/api/v1/sandboxes/${id}` });
    assertError(await app.inject({ method: 'GET', url: `${files}/list?path=/` }), 409, 'sandbox_not_running');
  });
});

describe('file upload back-pressure', () => {
  it('past the concurrent-upload cap, 429 with Retry-After before the body is read', async () => {
    const { app, service, files } = await withSandbox({ maxConcurrentUploads: 1, retryAfterSeconds: 4 });
    const write = service.writeFile.bind(service);
    let release!: () => void;
    service.writeFile = async (...args) => {
      await new Promise<void>((r) => (release = r));
      return write(...args);
    };
    const first = app.inject(put(`${files}?path=/tmp/a`, 'x'));
    await new Promise((r) => setTimeout(r, 20));
    const second = await app.inject(put(`${files}?path=/tmp/b`, 'y'));
    assertError(second, 429, 'capacity_exceeded');
    assert.equal(second.headers['retry-after'], '4');
    release();
    assert.equal((await first).statusCode, 200);
    service.writeFile = write;
    assert.equal((await app.inject(put(`${files}?path=/tmp/c`, 'z'))).statusCode, 200, 'slot released');
  });
});
