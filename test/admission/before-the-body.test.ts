/**
 * Authentication happens before a request's body is read: an unauthenticated client can neither
 * make the server buffer its body nor hold one of the bounded upload slots (8 by default) by
 * sending headers and then nothing. Real TCP listener, real sockets left hanging.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { signRequest } from '../../src/signing/sign.ts';
import { castFixture } from './fixture.ts';

/** Sends a request head announcing `length` body bytes and nothing more; resolves with whatever the server answers first. */
function hangingRequest(port: number, head: string, length: number, extraHeaders = ''): { socket: Socket; answer: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  socket.write(`${head} HTTP/1.1\r\nContent-Length: ${length}\r\n${extraHeaders}\r\n`);
  const answer = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('end', () => resolve(text));
    setTimeout(() => resolve(text), 3000).unref();
  });
  return { socket, answer };
}

describe('authentication before the body', () => {
  it('unsigned uploads are refused before their body arrives, and take no upload slot', async (t) => {
    const { app, people, send, service } = await castFixture(t);
    const created = await send(people.alice, { method: 'POST', url: '/api/v1/sandboxes', payload: {} });
    assert.equal(created.statusCode, 201, created.body);
    const id = (created.json() as { sandbox_id: string }).sandbox_id;
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const path = `/api/v1/sandboxes/${id}/files?path=/tmp/x`;
    // More hanging requests than there are upload slots, each announcing a body it never sends.
    const hanging = Array.from({ length: 12 }, () => hangingRequest(port, `PUT ${path}`, 1_000_000, 'Host: localhost\r\nContent-Type: application/octet-stream\r\n'));
    t.after(() => hanging.forEach((h) => h.socket.destroy()));
    const answers = await Promise.all(hanging.map((h) => h.answer));
    for (const a of answers) assert.match(a, /^HTTP\/1\.1 401 /, `refused at once, without the body: ${a.slice(0, 120)}`);
    // A signed upload still gets a slot.
    const body = 'hello';
    const url = `http://localhost:${port}${path}`;
    const headers = { host: `localhost:${port}`, 'content-type': 'application/octet-stream' };
    const signed = signRequest({ request: { method: 'PUT', targetUri: url, headers, body }, privateKey: people.alice.privateKey, keyid: people.alice.keyId });
    const res = await fetch(url, { method: 'PUT', headers: { ...headers, ...signed }, body });
    assert.equal(res.status, 200, await res.text());
    assert.deepEqual(service.files.get(`${id}:/tmp/x`), Buffer.from(body));
  });

  it('a signature that fails over the headers is refused before the body; one that holds is checked against the body once it arrives', async (t) => {
    const { app, people } = await castFixture(t);
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const path = '/api/v1/sandboxes';
    const headers = { host: `localhost:${port}`, 'content-type': 'application/json' };
    const signed = signRequest({ request: { method: 'POST', targetUri: `http://localhost:${port}${path}`, headers, body: '{}' }, privateKey: people.alice.privateKey, keyid: people.alice.keyId });
    // Another key id than the one that signed: refused on the headers, before any body byte.
    const forged = Object.entries({ ...headers, ...signed, 'signature-input': signed['signature-input'].replace(/keyid="[^"]+"/, `keyid="${people.bob.keyId}"`) })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const early = hangingRequest(port, `POST ${path}`, 2, forged);
    t.after(() => early.socket.destroy());
    assert.match(await early.answer, /^HTTP\/1\.1 401 [^]*"signature_invalid"/);
    // The true signature holds over the headers; the body is then read and checked against its digest.
    const honest = Object.entries({ ...headers, ...signed }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    const tampered = hangingRequest(port, `POST ${path}`, 2, honest);
    t.after(() => tampered.socket.destroy());
    tampered.socket.write('[]');
    assert.match(await tampered.answer, /^HTTP\/1\.1 401 [^]*"digest_mismatch"/);
  });
});
