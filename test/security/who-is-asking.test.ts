/**
 * T28, controller side, on every runtime, through the same wiring as `airlock serve`: a real control
 * plane (SandboxService + startServer + createAccess over a real store) and real sandboxes. Two
 * agents with their own Ed25519 keys: one's sandbox is invisible and untouchable to the other on
 * every route (nothing runs, nothing is written, nothing ends); unsigned, replayed, tampered and
 * foreign-Host requests are refused before anything runs.
 */
import { before, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createAccess } from '../../src/admission/access.ts';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { ControllerListeners } from '../../src/network/listeners.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { AirlockMetrics } from '../../src/observability/metrics.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { generateEd25519KeyPair, keyId, publicKeyPem } from '../../src/signing/keys.ts';
import { signRequest } from '../../src/signing/sign.ts';
import { openStore, type ControlStore } from '../../src/store/index.ts';
import { RUNTIMES } from './lib/runtime.ts';
import { runtimeCase, useSuite } from './lib/suite.ts';

const suite = useSuite();

let store: ControlStore;
let server: RunningServer;
let base: string;
const people: Record<'alice' | 'bob', { privateKey: KeyObject; keyId: string }> = {} as never;

before(async () => {
  const config = { ...suite.config, service: { ...suite.config.service, pools: [] }, network: { ...suite.config.network, poolSize: 0 } };
  store = await openStore(config);
  for (const name of ['alice', 'bob'] as const) {
    const pair = generateEd25519KeyPair();
    await store.addPrincipal({ name, role: 'agent', publicKeyPem: publicKeyPem(pair.publicKey) });
    people[name] = { privateKey: pair.privateKey, keyId: keyId(pair.publicKey) };
  }
  const access = await createAccess({ config, store });
  const listeners = new ControllerListeners(config.network);
  const service = new SandboxService({ config, policyBundleHash: access.engine.hash, listeners });
  await service.start();
  server = await startServer({ access, service, metrics: new AirlockMetrics(), logger: createLogger({ level: 'silent' }).logger, config, listeners, host: '127.0.0.1', port: 0 });
  base = `http://localhost:${new URL(server.address).port}`;
});

suite.closeFirst(async () => {
  await server?.close(); // Also ends every sandbox.
  await store?.close();
});

interface Sent {
  status: number;
  text: string;
  headers: Record<string, string>;
}

/** Sends a request signed by `who` (unsigned when undefined); `headers` may override what is signed. */
async function send(who: 'alice' | 'bob' | undefined, method: string, path: string, body?: string | Buffer, extra: { contentType?: string } = {}): Promise<Sent> {
  const url = `${base}${path}`;
  const headers: Record<string, string> = { host: new URL(base).host };
  if (body !== undefined) headers['content-type'] = extra.contentType ?? 'application/json';
  if (who !== undefined) Object.assign(headers, signRequest({ request: { method, targetUri: url, headers, body }, privateKey: people[who].privateKey, keyid: people[who].keyId }));
  return replay(method, path, headers, body);
}

async function replay(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Sent> {
  const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  return { status: res.status, text: await res.text(), headers };
}

/** The status of a GET sent with this Host header (fetch can't set one; node:http can). */
function statusFor(path: string, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    httpRequest({ host: '127.0.0.1', port: url.port, path, headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    })
      .on('error', reject)
      .end();
  });
}

function forbidden(r: Sent, what: string, ownerName: string): void {
  assert.equal(r.status, 403, `${what}: ${r.text}`);
  assert.match(r.text, /"code":"forbidden".*agent-own-sandboxes-only/, what);
  assert.ok(!r.text.includes(ownerName), `${what}: the refusal names the other tenant`);
}

for (const runtime of RUNTIMES) {
  describe(`${runtime}: T28 who is asking (controller side)`, () => {
    runtimeCase(suite, runtime, "another agent can neither see nor touch a sandbox, on any route; unsigned, replayed and foreign-Host requests run nothing", async () => {
      const created = await send('alice', 'POST', '/api/v1/sandboxes', JSON.stringify({ runtime, ttl_seconds: 120 }));
      assert.equal(created.status, 201, created.text);
      const id = (JSON.parse(created.text) as { sandbox_id: string; owner: string }).sandbox_id;
      const mine = await send('alice', 'POST', `/api/v1/sandboxes/${id}/exec?stream=false`, JSON.stringify({ command: ['sh', '-c', 'echo hers > /tmp/mine; cat /tmp/mine'] }));
      assert.equal(mine.status, 200, mine.text);
      assert.match(mine.text, /"stdout":"hers\\n"/);

      forbidden(await send('bob', 'GET', `/api/v1/sandboxes/${id}`), 'get', 'alice');
      forbidden(await send('bob', 'POST', `/api/v1/sandboxes/${id}/exec?stream=false`, JSON.stringify({ command: ['sh', '-c', 'echo pwned > /tmp/pwned'] })), 'exec', 'alice');
      forbidden(await send('bob', 'GET', `/api/v1/sandboxes/${id}/files?path=/tmp/mine`), 'files read', 'alice');
      forbidden(await send('bob', 'GET', `/api/v1/sandboxes/${id}/files/list?path=/tmp`), 'files list', 'alice');
      forbidden(await send('bob', 'PUT', `/api/v1/sandboxes/${id}/files?path=/tmp/planted`, Buffer.from('x'), { contentType: 'application/octet-stream' }), 'files write', 'alice');
      forbidden(await send('bob', 'PUT', `/api/v1/sandboxes/${id}/network`, JSON.stringify({ allowed_hosts: ['example.com'] })), 'network', 'alice');
      forbidden(await send('bob', 'POST', `/api/v1/sandboxes/${id}/timeout`, JSON.stringify({ ttl_seconds: 5 })), 'timeout', 'alice');
      forbidden(await send('bob', 'DELETE', `/api/v1/sandboxes/${id}`), 'delete', 'alice');
      const listed = JSON.parse((await send('bob', 'GET', '/api/v1/sandboxes')).text) as { sandboxes: { sandbox_id: string }[] };
      assert.ok(!listed.sandboxes.some((s) => s.sandbox_id === id), 'listed to another agent');
      assert.ok(!(await send('bob', 'GET', '/api/v1/sandbox/status')).text.includes(id), 'in another agent\'s status');

      // Not authenticated, replayed, or for another Host: refused, nothing created.
      const before = (JSON.parse((await send('alice', 'GET', '/api/v1/sandboxes')).text) as { total_count: number }).total_count;
      const unsigned = await send(undefined, 'POST', '/api/v1/sandboxes', JSON.stringify({ runtime }));
      assert.equal(unsigned.status, 401, unsigned.text);
      const once = await send('alice', 'POST', '/api/v1/sandboxes', JSON.stringify({ runtime, ttl_seconds: 60 }));
      assert.equal(once.status, 201, once.text);
      const again = await replay('POST', '/api/v1/sandboxes', once.headers, JSON.stringify({ runtime, ttl_seconds: 60 }));
      assert.match(`${again.status} ${again.text}`, /^401 .*nonce_replayed/);
      const tampered = await replay('POST', '/api/v1/sandboxes', (await send('alice', 'GET', '/api/v1/sandboxes')).headers, JSON.stringify({ runtime }));
      assert.equal(tampered.status, 401, tampered.text);
      assert.equal(await statusFor('/api/v1/sandboxes', 'attacker.example'), 421);
      const after_ = (JSON.parse((await send('alice', 'GET', '/api/v1/sandboxes')).text) as { total_count: number }).total_count;
      assert.equal(after_, before + 1, 'only the one signed create made a sandbox');

      // The owner's sandbox is as it was: running, nothing planted, nothing run by the other agent.
      const check = await send('alice', 'POST', `/api/v1/sandboxes/${id}/exec?stream=false`, JSON.stringify({ command: ['sh', '-c', 'ls /tmp; test ! -e /tmp/pwned && test ! -e /tmp/planted && echo clean'] }));
      assert.equal(check.status, 200, check.text);
      assert.match(check.text, /clean/);
      for (const s of [id, (JSON.parse(once.text) as { sandbox_id: string }).sandbox_id]) assert.equal((await send('alice', 'DELETE', `/api/v1/sandboxes/${s}`)).status, 200);
    }, { timeout: 180_000 });
  });
}
