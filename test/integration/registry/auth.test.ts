/**
 * Registry authentication against real servers: basic auth on Debian's docker-registry (htpasswd,
 * bcrypt made with Python's crypt), and bearer tokens from a token endpoint in front of it (the
 * challenge → token → retry flow Docker Hub and most registries use).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../../src/config/config.ts';
import { pullImage } from '../../../src/images/registry/pull.ts';
import { htpasswdLine, registrySkipReason, skopeoPush, startRegistry, writeDockerArchive } from './fixture.ts';

const skip = registrySkipReason();
const USER = 'puller';
const PASSWORD = 'correct horse battery staple';

test('basic auth: credentials from the environment or an auth file, never the command line', { skip: skip || (htpasswdLine('x', 'y') === undefined ? 'python3 crypt has no bcrypt here: no htpasswd entry can be made' : false), timeout: 120_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'airlock-test-pull-auth-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const registry = await startRegistry({ htpasswd: htpasswdLine(USER, PASSWORD) as string });
  t.after(() => registry.stop());
  const config = configSchema.parse({ stateDir: join(work, 'state') });
  const archive = join(work, 'app.tar');
  await writeDockerArchive(archive, { 'etc/': '', 'etc/auth.txt': 'behind a password\n' }, 'test/private:v1');
  skopeoPush(archive, `${registry.host}/test/private:v1`, `${USER}:${PASSWORD}`);
  const ref = `${registry.host}/test/private:v1`;
  const noFile = { AIRLOCK_REGISTRY_AUTH_FILE: join(work, 'absent.json') };

  await assert.rejects(pullImage(config, ref, { insecureRegistry: true, env: {} }), /asks for a user name and password and none is configured/);
  await assert.rejects(pullImage(config, ref, { insecureRegistry: true, env: { AIRLOCK_REGISTRY_USERNAME: USER, AIRLOCK_REGISTRY_PASSWORD: 'wrong' } }), /HTTP 401 \(credentials refused/);
  await assert.rejects(pullImage(config, ref, { insecureRegistry: true, env: noFile }), /cannot read the registry auth file/);

  const viaEnv = await pullImage(config, ref, { insecureRegistry: true, name: 'private', env: { AIRLOCK_REGISTRY_USERNAME: USER, AIRLOCK_REGISTRY_PASSWORD: PASSWORD } });
  assert.equal(viaEnv.name, 'private');
  const authFile = join(work, 'auth.json');
  await writeFile(authFile, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } } }), { mode: 0o600 });
  const viaFile = await pullImage(config, ref, { insecureRegistry: true, name: 'private2', env: { AIRLOCK_REGISTRY_AUTH_FILE: authFile } });
  assert.equal(viaFile.digest, viaEnv.digest);
});

test('bearer tokens: a 401 challenge is answered with a token from its realm, scoped to the repository; a redirect elsewhere gets no token', { skip, timeout: 120_000 }, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'airlock-test-pull-bearer-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const registry = await startRegistry();
  t.after(() => registry.stop());
  const archive = join(work, 'app.tar');
  await writeDockerArchive(archive, { 'etc/': '', 'etc/token.txt': 'behind a token\n' }, 'team/tool:v1');
  skopeoPush(archive, `${registry.host}/team/tool:v1`);
  // A gate in front of the real registry, as a token-auth registry behaves: /v2/ wants a bearer
  // token, /token hands one out for basic credentials, scoped to the repository asked for.
  const token = 'tkn-0123456789';
  const scopes: string[] = [];
  const [regHost, regPort] = registry.host.split(':') as [string, string];
  const gate = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gate');
    if (url.pathname === '/token') {
      scopes.push(`${url.searchParams.get('service')} ${url.searchParams.get('scope')}`);
      const ok = req.headers.authorization === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? JSON.stringify({ token }) : '{}');
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) {
      const { port } = gate.address() as { port: number };
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="gate.test",scope="repository:team/tool:pull"` }).end();
      return;
    }
    // Blobs are served from elsewhere (as registries hand them to a CDN or object store): a redirect to another origin.
    if (req.url?.includes('/blobs/') === true) {
      res.writeHead(307, { location: `http://127.0.0.1:${(blobStore.address() as { port: number }).port}${req.url}` }).end();
      return;
    }
    proxy(req, res);
  });
  const proxy = (req: IncomingMessage, res: ServerResponse) => {
    const upstream = httpRequest({ host: regHost, port: Number(regPort), path: req.url, method: req.method, headers: { accept: req.headers.accept ?? '*/*' } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.end();
  };
  const blobAuthorizations: (string | undefined)[] = [];
  const blobStore = createServer((req, res) => {
    blobAuthorizations.push(req.headers.authorization);
    proxy(req, res);
  });
  for (const server of [gate, blobStore]) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  }
  const gateHost = `127.0.0.1:${(gate.address() as { port: number }).port}`;
  const config = configSchema.parse({ stateDir: join(work, 'state') });

  // Anonymous: the token endpoint is asked without credentials, and refuses.
  await assert.rejects(pullImage(config, `${gateHost}/team/tool:v1`, { insecureRegistry: true, env: {} }), /token endpoint .* answered HTTP 401 \(credentials refused\)/);
  await assert.rejects(pullImage(config, `${gateHost}/team/tool:v1`, { insecureRegistry: true, credentials: { username: USER, password: 'wrong' } }), /token endpoint .* answered HTTP 401 \(credentials refused\)/);
  const r = await pullImage(config, `${gateHost}/team/tool:v1`, { insecureRegistry: true, name: 'tool', credentials: { username: USER, password: PASSWORD } });
  assert.equal(r.name, 'tool');
  assert.ok(scopes.length > 0 && scopes.every((s) => s === 'gate.test repository:team/tool:pull'), scopes.join('\n'));
  // Config and layer were fetched from the blob store, and the registry's token never went there.
  assert.ok(blobAuthorizations.length >= 2, `blob store asked ${blobAuthorizations.length} times`);
  assert.deepEqual(blobAuthorizations.filter((h) => h !== undefined), []);
});
