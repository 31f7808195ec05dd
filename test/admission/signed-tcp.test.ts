/**
 * End to end over a real listening TCP server: keys written to files as `airlock keys gen` writes
 * them, the SDK loading them (`loadSigningKey`) and signing every request, the server rebuilding
 * `@target-uri` from its own listener and the allowed Host. Also the raw wire: a signature is bound
 * to the Host it was made for, and a name not allowed (DNS rebinding) reaches nothing.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { AirlockClient, AirlockError, decideApproval, importSigningKey, signApprovalDecision, withApproval } from '../../sdk/index.ts';
import { loadSigningKey } from '../../sdk/node.ts';
import { loadPrivateKeyFile, writeNewKeyPair } from '../../src/signing/key-files.ts';
import { generateEd25519KeyPair, privateKeyPem } from '../../src/signing/keys.ts';
import { signRequest } from '../../src/signing/sign.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { PrincipalRole } from '../../src/policy/request.ts';
import { controller, tempStore } from './fixture.ts';

/** A controller on 127.0.0.1:<free port>, and principals whose keys live in files. */
async function listening(t: TestContext) {
  const path = await tempStore(t);
  const root = dirname(dirname(path));
  const store = await SqliteStore.open({ path });
  t.after(() => store.close());
  const keyFile = async (name: string, role: PrincipalRole) => {
    const written = await writeNewKeyPair(join(root, `${name}.key`));
    await store.addPrincipal({ name, role, publicKeyPem: await readFile(written.publicKeyPath, 'utf8') });
    return written.privateKeyPath;
  };
  const keys = { alice: await keyFile('alice', 'agent'), bob: await keyFile('bob', 'agent'), petra: await keyFile('petra', 'approver') };
  const { app, service } = await controller(t, store);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;
  const client = async (name: keyof typeof keys) => new AirlockClient({ baseUrl, signer: await loadSigningKey(keys[name]) });
  return { app, service, port, baseUrl, keys, client };
}

/** One request on the wire with exactly these headers (fetch won't send a chosen Host). */
function raw(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, setHost: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function codeOf(call: Promise<unknown>): Promise<[number | undefined, string]> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof AirlockError, String(err));
    return [err.status, err.code];
  }
  assert.fail('the call succeeded');
}

describe('signed requests over a real TCP listener', () => {
  it('the SDK signs with a key file: bodies, raw uploads and query strings verify, as the key\'s principal', async (t) => {
    const s = await listening(t);
    const alice = await s.client('alice');
    const info = await alice.createSandbox({ metadata: { via: 'sdk' } });
    assert.equal(info.owner, 'alice');
    assert.equal((await alice.getSandbox(info.sandbox_id)).sandbox_id, info.sandbox_id);
    assert.deepEqual(await alice.writeFile(info.sandbox_id, '/tmp/a b.txt', 'hello'), { path: '/tmp/a b.txt', size: 5 });
    assert.equal(new TextDecoder().decode(await alice.readFile(info.sandbox_id, '/tmp/a b.txt')), 'hello');
    assert.deepEqual((await alice.listFiles(info.sandbox_id, '/tmp')).map((e) => e.name), ['a b.txt']);
    assert.deepEqual((await alice.listSandboxes()).map((x) => x.sandbox_id), [info.sandbox_id]);
    const bob = await s.client('bob');
    assert.deepEqual(await bob.listSandboxes(), []);
    assert.deepEqual(await codeOf(bob.getSandbox(info.sandbox_id)), [403, 'forbidden']);
    assert.deepEqual(await codeOf(bob.killSandbox(info.sandbox_id)), [403, 'forbidden']);
    assert.equal((await alice.killSandbox(info.sandbox_id)).state, 'ended');
  });

  it('unsigned, or signed by a key the server does not know: 401', async (t) => {
    const s = await listening(t);
    const res = await fetch(`${s.baseUrl}/api/v1/sandboxes`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'authentication_required');
    assert.ok(res.headers.get('accept-signature')?.includes('"@target-uri"'));
    const stranger = new AirlockClient({ baseUrl: s.baseUrl, signer: await importSigningKey(privateKeyPem(generateEd25519KeyPair().privateKey)) });
    assert.deepEqual(await codeOf(stranger.listSandboxes()), [401, 'key_unknown']);
    assert.equal(s.service.created.length, 0);
  });

  it('an approval round trip with the SDK: 202, the approver signs with its own key file, the retry runs', async (t) => {
    const s = await listening(t);
    const alice = await s.client('alice');
    const petra = await s.client('petra');
    const petraKey = await loadSigningKey(s.keys.petra);
    let asked = 0;
    const info = await withApproval(alice, (approvalId) => alice.createSandbox({ network_policy: 'full' }, { approvalId }), {
      pollMs: 20,
      onPending: async (pending) => {
        asked += 1;
        const decision = await signApprovalDecision(petraKey, { approval_id: pending.approvalId, action_digest: pending.actionDigest, decision: 'approve', expires_at: new Date(Date.now() + 60_000) });
        assert.equal((await decideApproval(petra, pending.approvalId, decision)).state, 'approved');
      },
    });
    assert.equal(asked, 1);
    assert.deepEqual([info.owner, info.network_policy], ['alice', 'full']);
    assert.equal(s.service.created.length, 1);
  });

  it('a signature is bound to its @target-uri: the same bytes under another allowed Host are refused; an unlisted Host is 421', async (t) => {
    const s = await listening(t);
    const privateKey = await loadPrivateKeyFile(s.keys.alice);
    const path = '/api/v1/sandboxes';
    const signedFor = (host: string) => {
      const headers = { host };
      return { ...headers, ...signRequest({ request: { method: 'GET', targetUri: `http://${host}${path}`, headers }, privateKey }) };
    };
    const good = signedFor(`127.0.0.1:${s.port}`);
    assert.equal((await raw(s.port, 'GET', path, good)).status, 200);
    // Same signature, Host rewritten to another name the server answers to: not what was signed.
    const moved = await raw(s.port, 'GET', path, { ...signedFor(`127.0.0.1:${s.port}`), host: `localhost:${s.port}` });
    assert.equal(moved.status, 401, moved.body);
    assert.equal(JSON.parse(moved.body).error.code, 'signature_invalid');
    // A page on a rebinding name, even with a valid signature for that name, reaches nothing.
    const rebound = await raw(s.port, 'GET', path, signedFor('evil.example'));
    assert.equal(rebound.status, 421, rebound.body);
    assert.equal(JSON.parse(rebound.body).error.code, 'host_not_allowed');
    assert.equal((await raw(s.port, 'GET', '/health', { host: 'evil.example' })).status, 421);
  });
});
