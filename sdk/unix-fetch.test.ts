/**
 * `unixSocketFetch` against a real node:http server on a temp socket: status, headers, bodies
 * streaming both ways, bodiless statuses, cancellation before and during the answer, and a
 * missing socket.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AirlockClient } from './client.ts';
import { NetworkError } from './errors.ts';
import { unixSocketConnection, unixSocketFetch } from './unix-fetch.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('unixSocketFetch', () => {
  let dir: string;
  let socketPath: string;
  let server: Server;
  let handler: Handler;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-unix-fetch-'));
    socketPath = join(dir, 'api.sock');
    server = createServer((req, res) => handler(req, res));
    server.listen(socketPath);
    await once(server, 'listening');
  });
  after(async () => {
    const closing = new Promise((resolve) => server.close(resolve));
    server.closeAllConnections();
    await closing;
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends method, target, Host and headers; returns status, headers and body', async () => {
    handler = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.writeHead(201, 'Made', { 'content-type': 'application/json', 'x-seen': `${req.method} ${req.url} ${req.headers.host} ${req.headers['x-custom']}` });
        res.end(JSON.stringify({ body: Buffer.concat(chunks).toString(), length: req.headers['content-length'] }));
      });
    };
    const fetch = unixSocketFetch(socketPath);
    const response = await fetch('http://localhost/api/v1/x?y=%2Fz', { method: 'POST', headers: { 'x-custom': 'yes' }, body: 'héllo' });
    assert.equal(response.status, 201);
    assert.equal(response.statusText, 'Made');
    assert.equal(response.headers.get('x-seen'), 'POST /api/v1/x?y=%2Fz localhost yes');
    assert.deepEqual(response.headers.getSetCookie(), ['a=1', 'b=2']);
    assert.deepEqual(await response.json(), { body: 'héllo', length: '6' });
  });

  it('streams the request body and the response body as they come', async () => {
    const gate = Promise.withResolvers<void>();
    const firstChunkArrived = Promise.withResolvers<void>();
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      req.once('data', (c: Buffer) => {
        res.write(`got ${c.toString()};`);
        firstChunkArrived.resolve();
      });
      req.on('end', () => void gate.promise.then(() => res.end('done')));
      req.resume();
    };
    const encoder = new TextEncoder();
    const requestBody = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode('one'));
        // The second chunk waits until the server has answered the first: both directions stream.
        await firstChunkArrived.promise;
        controller.enqueue(encoder.encode('two'));
        controller.close();
      },
    });
    const response = await unixSocketFetch(socketPath)('http://localhost/stream', { method: 'PUT', body: requestBody, duplex: 'half' } as RequestInit);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), 'got one;');
    gate.resolve();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    assert.equal(rest, 'done');
  });

  it('a 204 has no body', async () => {
    handler = (_req, res) => res.writeHead(204).end();
    const response = await unixSocketFetch(socketPath)('http://localhost/none', { method: 'DELETE' });
    assert.equal(response.status, 204);
    assert.equal(response.body, null);
  });

  it('aborting before the answer rejects with the reason and closes the connection', async () => {
    const closed = Promise.withResolvers<void>();
    handler = (req) => req.socket.once('close', () => closed.resolve());
    const controller = new AbortController();
    const pending = unixSocketFetch(socketPath)('http://localhost/hang', { method: 'GET', signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop now')), 20);
    await assert.rejects(pending, /stop now/);
    await closed.promise;
    const already = AbortSignal.abort();
    await assert.rejects(unixSocketFetch(socketPath)('http://localhost/x', { method: 'GET', signal: already }), { name: 'AbortError' });
  });

  it('aborting while the body streams fails the read and closes the connection', async () => {
    const closed = Promise.withResolvers<void>();
    handler = (req, res) => {
      req.socket.once('close', () => closed.resolve());
      res.writeHead(200).write('partial');
    };
    const controller = new AbortController();
    const response = await unixSocketFetch(socketPath)('http://localhost/slow', { method: 'GET', signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), 'partial');
    controller.abort(new Error('enough'));
    await assert.rejects(reader.read());
    await closed.promise;
  });

  it('a missing socket fails like fetch does (TypeError with the errno as cause)', async () => {
    const missing = unixSocketFetch(join(dir, 'absent.sock'))('http://localhost/', { method: 'GET' });
    await assert.rejects(missing, (err: unknown) => err instanceof TypeError && (err.cause as NodeJS.ErrnoException).code === 'ENOENT');
    const client = new AirlockClient(unixSocketConnection(join(dir, 'absent.sock')));
    // The same shape as the global fetch's failure, so callers find the errno where they look for it.
    await assert.rejects(client.health(), (err: unknown) => err instanceof NetworkError && ((err.cause as TypeError).cause as NodeJS.ErrnoException).code === 'ENOENT');
  });

  it('carries the SDK: an AirlockClient over the socket', async () => {
    handler = (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', host: req.headers.host }));
    const client = new AirlockClient(unixSocketConnection(socketPath));
    assert.equal(client.baseUrl, 'http://localhost');
    assert.deepEqual(await client.health(), { status: 'ok', host: 'localhost' });
  });
});
