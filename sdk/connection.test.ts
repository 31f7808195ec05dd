/**
 * How the SDK connects, without a sandbox: `AIRLOCK_URL` / `AIRLOCK_KEY` from the environment, the
 * bounded retry of 429 with `Retry-After`, the underlying cause in network errors, and options that
 * are refused instead of ignored (E2B's names mapped to the wire's).
 */
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { writeNewKeyPair } from '../src/signing/key-files.ts';
import { serverFromEnvironment, connectionFromEnvironment } from './environment.ts';
import { AirlockClient, InvalidRequestError, NetworkError, RateLimitError, Sandbox } from './index.ts';
import { changes } from './watch.ts';
import { envelope, fakeFetch } from './testing/fake-fetch.ts';
import { startVerifyingServer } from './testing/verifying-server.ts';

const noSocket = () => false;

describe('the environment names the server and the key', () => {
  it('AIRLOCK_URL: http(s) URLs, unix:/path and unix:///path; without it the socket if present, else the default URL', () => {
    assert.deepEqual(serverFromEnvironment({ AIRLOCK_URL: 'https://airlock.example:8443' }, noSocket), { baseUrl: 'https://airlock.example:8443' });
    for (const url of ['unix:/tmp/x.sock', 'unix:///tmp/x.sock']) {
      const socket = serverFromEnvironment({ AIRLOCK_URL: url }, noSocket);
      assert.equal(socket.baseUrl, 'http://localhost');
      assert.equal(typeof socket.fetch, 'function');
    }
    assert.deepEqual(serverFromEnvironment({}, noSocket), { baseUrl: 'http://127.0.0.1:8002' });
    assert.equal(serverFromEnvironment({}, () => true).baseUrl, 'http://localhost');
    assert.throws(() => serverFromEnvironment({ AIRLOCK_URL: 'unix:relative.sock' }, noSocket), /AIRLOCK_URL: "unix:relative.sock" must name an absolute socket path/);
    assert.throws(() => serverFromEnvironment({ AIRLOCK_URL: 'ftp://x' }, noSocket), /must be an http\(s\):\/\/ URL or unix:/);
  });

  it('AIRLOCK_KEY: the key file signs; a missing or open file is an error naming AIRLOCK_KEY', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-sdk-env-'));
    try {
      const { privateKeyPath, keyId } = await writeNewKeyPair(join(dir, 'agent'));
      const options = await connectionFromEnvironment({ AIRLOCK_URL: 'http://127.0.0.1:1', AIRLOCK_KEY: privateKeyPath }, noSocket);
      assert.equal(options.signer?.keyId, keyId);
      await assert.rejects(connectionFromEnvironment({ AIRLOCK_KEY: join(dir, 'missing') }, noSocket), /^AirlockError: AIRLOCK_KEY: .*missing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Sandbox with nothing but the environment', () => {
  it('AIRLOCK_URL (TCP, then unix:///path) and AIRLOCK_KEY: requests go there, signed with that key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-sdk-env-'));
    const saved = { url: process.env['AIRLOCK_URL'], key: process.env['AIRLOCK_KEY'] };
    try {
      const { privateKeyPath, publicKeyPath, keyId } = await writeNewKeyPair(join(dir, 'agent'));
      const keys = new Map([[keyId, createPublicKey(readFileSync(publicKeyPath, 'utf8'))]]);
      process.env['AIRLOCK_KEY'] = privateKeyPath;
      for (const socketPath of [undefined, join(dir, 'api.sock')]) {
        const server = await startVerifyingServer(socketPath === undefined ? { keys } : { keys, socketPath });
        try {
          process.env['AIRLOCK_URL'] = socketPath === undefined ? server.baseUrl : `unix://${socketPath}`;
          assert.deepEqual(await Sandbox.list(), []);
          assert.equal(server.seen.length, 1);
          assert.equal(server.seen[0]?.refusal, undefined, server.seen[0]?.refusal);
          assert.equal(server.seen[0]?.keyid, keyId);
        } finally {
          await server.close();
        }
      }
    } finally {
      for (const [name, value] of [['AIRLOCK_URL', saved.url], ['AIRLOCK_KEY', saved.key]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('429 is retried as Retry-After says, within bounds', () => {
  it('waits Retry-After and succeeds; each attempt is a fresh request', async () => {
    const { fetch, requests } = fakeFetch({ status: 429, headers: { 'retry-after': '1' }, json: envelope('capacity_exceeded') }, { json: { sandboxes: [], total_count: 0 } });
    const started = Date.now();
    assert.deepEqual(await new AirlockClient({ fetch }).listSandboxes(), []);
    assert.equal(requests.length, 2);
    assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`);
  });

  it('gives up after `retries`, and at once when Retry-After exceeds maxDelayMs or retry is false', async () => {
    const busy = { status: 429, headers: { 'retry-after': '0' }, json: envelope('capacity_exceeded') };
    const a = fakeFetch(busy);
    await assert.rejects(new AirlockClient({ fetch: a.fetch, retry: { retries: 2 } }).health(), RateLimitError);
    assert.equal(a.requests.length, 3);
    const b = fakeFetch({ ...busy, headers: { 'retry-after': '120' } });
    await assert.rejects(new AirlockClient({ fetch: b.fetch }).health(), (err: unknown) => err instanceof RateLimitError && err.retryAfter === 120);
    assert.equal(b.requests.length, 1);
    const c = fakeFetch(busy);
    await assert.rejects(new AirlockClient({ fetch: c.fetch, retry: false }).health(), RateLimitError);
    assert.equal(c.requests.length, 1);
    assert.throws(() => new AirlockClient({ retry: { retries: -1 } }), /retry.retries: must be a number of 0 or more/);
    assert.throws(() => new AirlockClient({ retry: { tries: 2 } as never }), /retry: unknown option tries/);
  });

  it('a caller abort ends the wait', async () => {
    const { fetch } = fakeFetch({ status: 429, headers: { 'retry-after': '20' }, json: envelope('capacity_exceeded') });
    const controller = new AbortController();
    const pending = new AirlockClient({ fetch }).health({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error('caller gave up')), 50);
    await assert.rejects(pending, /caller gave up/);
  });
});

describe('network errors name the cause', () => {
  let server: Server;
  let port: number;
  before(async () => {
    // A port that was just free: listen, note it, close.
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('a refused connection reads "fetch failed (ECONNREFUSED 127.0.0.1:PORT)"', async () => {
    await assert.rejects(new AirlockClient({ baseUrl: `http://127.0.0.1:${port}`, retry: false }).health(), (err: unknown) => {
      assert.ok(err instanceof NetworkError);
      assert.equal(err.message, `GET /health: fetch failed (ECONNREFUSED 127.0.0.1:${port})`);
      return true;
    });
  });

  it('a missing socket names the path', async () => {
    const sandboxes = Sandbox.list({ ...serverFromEnvironment({ AIRLOCK_URL: 'unix:///nonexistent/airlock.sock' }, noSocket) });
    await assert.rejects(sandboxes, (err: unknown) => err instanceof NetworkError && /ENOENT \/nonexistent\/airlock\.sock/.test(err.message));
  });
});

describe('options: E2B names become wire fields; nothing is silently ignored', () => {
  it('create(template, {timeoutMs, envs, metadata, allowInternetAccess})', async () => {
    const { fetch, requests } = fakeFetch({ status: 201, json: { sandbox_id: 's-1' } });
    const sandbox = await Sandbox.create('python', { fetch, timeoutMs: 60_500, envs: { A: '1' }, metadata: { job: 'x' }, allowInternetAccess: false });
    assert.equal(sandbox.sandboxId, 's-1');
    assert.deepEqual(JSON.parse(String(requests[0]?.body)), { image: 'python', ttl_seconds: 61, environment: { A: '1' }, metadata: { job: 'x' }, network_policy: 'none' });
  });

  it('refuses unknown and unsupported options, and one field given both ways', async () => {
    const { fetch, requests } = fakeFetch({ status: 201, json: { sandbox_id: 's-1' } });
    await assert.rejects(Sandbox.create({ fetch, timeoutMS: 1 } as never), (err: unknown) => err instanceof InvalidRequestError && /unknown option "timeoutMS"/.test(err.message));
    await assert.rejects(Sandbox.create({ fetch, apiKey: 'e2b_x' } as never), /option "apiKey" is not supported: airlock authenticates with a signing key/);
    await assert.rejects(Sandbox.create({ fetch, timeoutMs: 1000, ttl_seconds: 5 }), /timeoutMs and ttl_seconds: give one of them/);
    await assert.rejects(Sandbox.create({ fetch, timeoutMs: -1 }), /timeoutMs: must be a positive number of milliseconds/);
    await assert.rejects(Sandbox.create({ client: new AirlockClient({ fetch }), baseUrl: 'http://x:1' }), /give a client or connection options \(baseUrl\), not both/);
    await assert.rejects(Sandbox.list({ fetch, query: { state: ['running'] } } as never), /option "query" is not supported/);
    const sandbox = new Sandbox('s-1', new AirlockClient({ fetch }));
    await assert.rejects(sandbox.commands.run('id', { user: 'root' } as never), /option "user" is not supported/);
    await assert.rejects(sandbox.commands.run('id', { stdin: true } as never), /keeping stdin open for sendStdin is not supported/);
    await assert.rejects(sandbox.commands.run('id', { envs: { A: '1' }, env: { A: '2' } }), /envs and env: give one of them/);
    await assert.rejects(sandbox.files.watchDir('/tmp', () => undefined, { recursive: true } as never), /option "recursive" is not supported/);
    await assert.rejects(sandbox.files.list('/tmp', { depth: 2 } as never), /files.list: option "depth" is not supported/);
    await assert.rejects(sandbox.files.read('/tmp/x', { user: 'root' } as never), /files.read: option "user" is not supported/);
    await assert.rejects(sandbox.files.write('/tmp/x', 'y', { user: 'root' } as never), /files.write: option "user" is not supported/);
    assert.equal(requests.length, 0, 'nothing was sent');
  });

  it('setTimeout takes milliseconds (60 000 ms is 60 s, not 16.7 h)', async () => {
    const { fetch, requests } = fakeFetch({ json: { sandbox_id: 's-1' } });
    await new Sandbox('s-1', new AirlockClient({ fetch })).setTimeout(60_000);
    assert.deepEqual(JSON.parse(String(requests[0]?.body)), { ttl_seconds: 60 });
  });
});

describe('watchDir compares listings', () => {
  const entry = (name: string, size: number, mode = 0o644, type: 'file' | 'dir' = 'file') => ({ name, path: `/d/${name}`, type, size, mode, modified_at: `t${size}` });
  it('create, write, chmod, remove', () => {
    const before = new Map([['a', entry('a', 1)], ['b', entry('b', 1)], ['c', entry('c', 1)]]);
    const after = new Map([['a', entry('a', 2)], ['b', entry('b', 1, 0o600)], ['d', entry('d', 1)]]);
    assert.deepEqual(changes(before, after), [
      { name: 'a', type: 'write' },
      { name: 'b', type: 'chmod' },
      { name: 'd', type: 'create' },
      { name: 'c', type: 'remove' },
    ]);
  });
});
