import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  closedWithin, proxyRequest, rawExchange, startHttpServer, startTestProxy, waitFor, type TestServer,
} from './test-fixtures.ts';

describe('egress proxy: hostile clients', { timeout: 30_000 }, () => {
  let upstream: TestServer;
  let upstreamHeaders: Record<string, string | string[] | undefined>[];
  before(async () => {
    upstreamHeaders = [];
    upstream = await startHttpServer((req, res) => {
      upstreamHeaders.push(req.headers);
      if (req.url === '/hang') return; // never answers
      res.end('ok');
    });
  });
  after(() => upstream.close());

  it('answers garbage with 400, records it, and keeps serving', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    assert.match(await rawExchange(port, '\u0000\u0001garbage\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(await rawExchange(port, 'GET http://x/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n'), /^HTTP\/1\.1 400/);
    let seed = 7;
    for (let round = 0; round < 30; round += 1) {
      const bytes = Buffer.from(Array.from({ length: 64 }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 255));
      await rawExchange(port, bytes, 500);
    }
    assert.ok(decisions.filter((d) => d.reason === 'malformed_request').length >= 2);
    assert.equal((await proxyRequest(port, `http://127.0.0.1:${upstream.port}/`)).body, 'ok');
  });

  it('answers oversized headers with 431', async (t) => {
    const { port, close } = await startTestProxy([]);
    t.after(close);
    const res = await rawExchange(port, `GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(res, /^HTTP\/1\.1 431/);
  });

  it('drops slowloris clients after the header timeout while serving others', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${upstream.port}`], { headersTimeoutMs: 300 });
    t.after(close);
    const slow = await Promise.all(Array.from({ length: 20 }, () => new Promise<net.Socket>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('GET http://a.example/ HTTP/1.1\r\nHost: a.example\r\n');
        resolve(socket);
      });
      socket.on('error', () => {});
      const drip = setInterval(() => (socket.writable ? socket.write('X-A: b\r\n') : clearInterval(drip)), 100);
      socket.on('close', () => clearInterval(drip));
    })));
    assert.equal((await proxyRequest(port, `http://127.0.0.1:${upstream.port}/`)).body, 'ok');
    const closed = await Promise.all(slow.map((socket) => closedWithin(socket, 4000)));
    assert.ok(closed.every(Boolean), 'every slow client was dropped');
  });

  it('limits concurrent connections', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${upstream.port}`], { maxConnections: 2 });
    t.after(close);
    const open = (): Promise<net.Socket> => new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
      socket.on('error', () => {});
    });
    const first = await open();
    const second = await open();
    const third = await open();
    assert.equal(await closedWithin(third, 2000), true, 'the connection over the limit is dropped');
    first.destroy();
    second.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await proxyRequest(port, `http://127.0.0.1:${upstream.port}/`)).body, 'ok');
  });

  it('survives an onDecision that throws', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${upstream.port}`], { onDecision: () => { throw new Error('sink down'); } });
    t.after(close);
    assert.equal((await proxyRequest(port, 'http://denied.example/')).status, 403);
    assert.equal((await proxyRequest(port, `http://127.0.0.1:${upstream.port}/`)).body, 'ok');
  });

  it('records exactly one decision when the client leaves mid-judgement', async (t) => {
    const { port, decisions, close } = await startTestProxy(['slow.test'], {
      resolve: () => new Promise(() => {}), connectTimeoutMs: 300,
    });
    t.after(close);
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET http://slow.test/ HTTP/1.1\r\nHost: slow.test\r\n\r\n'));
    socket.on('error', () => {});
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(decisions.map((d) => d.reason), ['client_closed']);
  });

  it('treats an Upgrade request as plain HTTP with Upgrade removed', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    const res = await rawExchange(port, `GET http://127.0.0.1:${upstream.port}/ws HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`, 1000);
    assert.match(res, /^HTTP\/1\.1 200/);
    assert.equal(upstreamHeaders.at(-1)?.upgrade, undefined);
  });

  it('close() destroys idle keep-alive clients and in-flight upstream requests', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    const idle = net.connect(port, '127.0.0.1');
    idle.on('error', () => {});
    await new Promise((r) => idle.once('connect', r));
    const hanging = net.connect(port, '127.0.0.1', () => hanging.write(`GET http://127.0.0.1:${upstream.port}/hang HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\n\r\n`));
    hanging.on('error', () => {});
    const before = upstreamHeaders.length;
    await waitFor(() => upstreamHeaders.length > before);
    const started = Date.now();
    await close();
    assert.ok(Date.now() - started < 1000, 'close() does not wait for clients');
    assert.equal(await closedWithin(idle, 1000), true);
    assert.equal(await closedWithin(hanging, 1000), true);
    await waitFor(() => upstream.openConnections() === 0, 1000);
    await assert.rejects(proxyRequest(port, `http://127.0.0.1:${upstream.port}/`), 'the listener is gone');
  });
});
