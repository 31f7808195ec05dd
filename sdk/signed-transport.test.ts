/**
 * The SDK signs every request it sends when given a key: checked by the server's real verifier
 * (src/signing/verify.ts) behind a real node:http server, over TCP and over a unix socket.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateEd25519KeyPair, keyId, privateKeyPem } from '../src/signing/keys.ts';
import { AirlockClient } from './client.ts';
import { AirlockError } from './errors.ts';
import type { ConnectionOptions } from './http.ts';
import { Sandbox } from './sandbox.ts';
import { importSigningKey, type SigningKey } from './signing.ts';
import { startVerifyingServer, type VerifyingServer } from './testing/verifying-server.ts';
import { unixSocketConnection } from './unix-fetch.ts';

const pair = generateEd25519KeyPair();
const stranger = generateEd25519KeyPair();

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    async pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else {
        await new Promise((resolve) => setTimeout(resolve, 5));
        controller.enqueue(encoder.encode(next));
      }
    },
  });
}

for (const transport of ['tcp', 'unix socket'] as const) {
  describe(`signed requests over ${transport}, checked by the real verifier`, () => {
    let dir: string;
    let server: VerifyingServer;
    let signer: SigningKey;
    let connection: ConnectionOptions;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'airlock-sdk-signed-'));
      signer = await importSigningKey(privateKeyPem(pair.privateKey));
      const keys = new Map([[keyId(pair.publicKey), pair.publicKey]]);
      if (transport === 'tcp') {
        server = await startVerifyingServer({ keys });
        connection = { baseUrl: server.baseUrl };
      } else {
        const socketPath = join(dir, 'api.sock');
        server = await startVerifyingServer({ keys, socketPath });
        connection = unixSocketConnection(socketPath);
      }
    });
    after(async () => {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('GET, JSON POST, octet-stream PUT (bytes and a stream) and a streamed exec all verify', async () => {
      server.seen.length = 0;
      // Stale signature headers of the caller's own are replaced, not sent beside the fresh ones.
      const stale = { Signature: 'sig1=:AAAA:', 'Content-Digest': 'sha-256=:AAAA:' };
      const client = new AirlockClient({ ...connection, signer, headers: stale });
      assert.equal(client.transport.keyId, keyId(pair.publicKey));
      assert.deepEqual(await client.listSandboxes(), []);
      await client.createSandbox({ runtime: 'namespace', metadata: { who: 'signed' } });
      assert.deepEqual(await client.writeFile('s-1', '/tmp/a.bin', new Uint8Array([0, 1, 2, 255])), { path: '/tmp/a.bin', size: 4 });
      const streamed = await client.transport.json<{ size: number }>({
        method: 'PUT',
        path: '/api/v1/sandboxes/s-1/files',
        query: { path: '/tmp/streamed.txt' },
        body: streamOf(['first ', 'second ', 'third']),
        contentType: 'application/octet-stream',
      });
      assert.equal(streamed.size, 'first second third'.length);
      const exec = await client.execStream('s-1', { command: ['echo', 'hello'] });
      const frames = [];
      for await (const frame of exec.frames) frames.push(frame.type);
      assert.deepEqual(frames, ['stdout', 'exit']);

      const base = transport === 'tcp' ? server.baseUrl : 'http://localhost';
      assert.deepEqual(
        server.seen.map((r) => [r.refusal ?? 'verified', r.method, r.targetUri]),
        [
          ['verified', 'GET', `${base}/api/v1/sandboxes`],
          ['verified', 'POST', `${base}/api/v1/sandboxes`],
          ['verified', 'PUT', `${base}/api/v1/sandboxes/s-1/files?path=%2Ftmp%2Fa.bin`],
          ['verified', 'PUT', `${base}/api/v1/sandboxes/s-1/files?path=%2Ftmp%2Fstreamed.txt`],
          ['verified', 'POST', `${base}/api/v1/sandboxes/s-1/exec`],
        ],
      );
      for (const r of server.seen) {
        const withBody = r.body.length > 0;
        assert.deepEqual(r.components, ['@method', '@target-uri', ...(withBody ? ['content-digest'] : [])], `${r.method} ${r.targetUri}`);
        assert.equal(r.keyid, keyId(pair.publicKey));
      }
      assert.equal(Buffer.from(server.seen[3]?.body ?? []).toString(), 'first second third');
      assert.equal(new Set(server.seen.map((r) => r.nonce)).size, server.seen.length, 'a fresh nonce per request');
    });

    it('the same request twice gets two nonces (the replay cache would refuse a reused one)', async () => {
      server.seen.length = 0;
      const client = new AirlockClient({ ...connection, signer });
      await client.getSandbox('s-1');
      await client.getSandbox('s-1');
      assert.deepEqual(server.seen.map((r) => r.refusal ?? 'verified'), ['verified', 'verified']);
      assert.notEqual(server.seen[0]?.nonce, server.seen[1]?.nonce);
    });

    it('Sandbox.create signs and never sends the key in the body', async () => {
      server.seen.length = 0;
      const sandbox = await Sandbox.create({ ...connection, signer, ttl_seconds: 60 });
      assert.equal(sandbox.id, 's-1');
      const body = JSON.parse(Buffer.from(server.seen[0]?.body ?? []).toString()) as Record<string, unknown>;
      assert.deepEqual(body, { ttl_seconds: 60 });
      assert.equal(server.seen[0]?.refusal, undefined);
    });

    it('unsigned or signed by an unknown key: 401 with the refusal code, and no signature in the error', async () => {
      server.seen.length = 0;
      await assert.rejects(new AirlockClient(connection).listSandboxes(), (err: unknown) => err instanceof AirlockError && err.status === 401 && err.code === 'signature_missing');
      const unknown = new AirlockClient({ ...connection, signer: await importSigningKey(privateKeyPem(stranger.privateKey)) });
      const err = await unknown.createSandbox({ runtime: 'namespace' }).then(
        () => assert.fail('accepted'),
        (e: unknown) => e as AirlockError,
      );
      assert.equal(err.code, 'key_unknown');
      const sent = server.seen[1]?.headers;
      const signature = String(sent?.['signature']).replace(/^sig1=:|:$/g, '');
      assert.ok(signature.length > 40);
      const everything = `${err.message}\n${err.stack ?? ''}\n${JSON.stringify(err)}\n${String(err.cause ?? '')}`;
      assert.ok(!everything.includes(signature), 'the signature is not in the error');
    });
  });
}

describe('signing failures', () => {
  it('a streamed body that never ends is still bound by the deadline and by cancellation', async () => {
    const signer = await importSigningKey(privateKeyPem(pair.privateKey));
    let sent = 0;
    const client = new AirlockClient({ baseUrl: 'http://127.0.0.1:1', signer, fetch: async () => (sent++, new Response('{}')) });
    const endless = () => new ReadableStream<Uint8Array>({ pull: () => new Promise(() => undefined) });
    await assert.rejects(client.transport.json({ method: 'PUT', path: '/x', body: endless(), timeoutMs: 50 }), (err: unknown) => err instanceof AirlockError && err.code === 'timeout');
    const controller = new AbortController();
    const pending = client.transport.json({ method: 'PUT', path: '/x', body: endless(), signals: [controller.signal], timeoutMs: 0 });
    controller.abort(new Error('changed my mind'));
    await assert.rejects(pending, /changed my mind/);
    assert.equal(sent, 0);
  });

  it('a key that cannot sign is a signing_failed error before anything is sent', async () => {
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    let sent = 0;
    const client = new AirlockClient({
      baseUrl: 'http://127.0.0.1:1',
      signer: { keyId: 'k', privateKey: hmac },
      fetch: async () => {
        sent++;
        return new Response('{}');
      },
    });
    await assert.rejects(client.health(), (err: unknown) => err instanceof AirlockError && err.code === 'signing_failed' && /cannot sign the request/.test(err.message));
    assert.equal(sent, 0);
  });
});
