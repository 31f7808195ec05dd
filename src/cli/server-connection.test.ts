/**
 * How the CLI picks its server and key, what it says when that fails, and `airlock sandbox …`
 * signing end to end: the real CLI in a child process against a server that checks every
 * signature with the real verifier, over a temp unix socket and over TCP.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AirlockError, NetworkError } from '../../sdk/errors.ts';
import { startVerifyingServer, type VerifyingServer } from '../../sdk/testing/verifying-server.ts';
import { loadPublicKeyFile, writeNewKeyPair, type WrittenKeyPair } from '../signing/key-files.ts';
import { describeError } from './sandbox-format.ts';
import { DEFAULT_URL } from './sandbox-options.ts';
import { connectionFromOptions, resolveKey, resolveServer } from './server-connection.ts';
import { runCli } from './test-cli.ts';
import { UsageError } from './usage-error.ts';

const usage = (pattern: RegExp) => (err: unknown) => err instanceof UsageError && pattern.test(err.message);
const present = () => true;
const absent = () => false;

describe('CLI server selection', () => {
  it('--url or --socket, else AIRLOCK_URL, else AIRLOCK_SOCKET, else the default socket when present, else the default URL', () => {
    const env = { AIRLOCK_URL: 'http://env:1', AIRLOCK_SOCKET: '/env.sock' };
    assert.deepEqual(resolveServer({ url: 'http://opt:2' }, env, present), { kind: 'url', url: 'http://opt:2', source: '--url' });
    assert.deepEqual(resolveServer({ socket: '/opt.sock' }, env, present), { kind: 'socket', path: '/opt.sock', source: '--socket' });
    assert.deepEqual(resolveServer({}, env, present), { kind: 'url', url: 'http://env:1', source: 'AIRLOCK_URL' });
    assert.deepEqual(resolveServer({}, { AIRLOCK_URL: '', AIRLOCK_SOCKET: '/env.sock' }, present), { kind: 'socket', path: '/env.sock', source: 'AIRLOCK_SOCKET' });
    assert.deepEqual(resolveServer({}, {}, (p) => p === '/run/airlock/api.sock'), { kind: 'socket', path: '/run/airlock/api.sock', source: 'the default socket, present on this host' });
    assert.deepEqual(resolveServer({}, {}, absent), { kind: 'url', url: DEFAULT_URL, source: 'the default: no socket at /run/airlock/api.sock' });
  });

  it('unix:/path URLs name a socket; relative socket paths resolve against the working directory', () => {
    assert.deepEqual(resolveServer({ url: 'unix:/tmp/a.sock' }, {}, absent), { kind: 'socket', path: '/tmp/a.sock', source: '--url' });
    assert.deepEqual(resolveServer({}, { AIRLOCK_URL: 'unix:///tmp/b.sock' }, absent), { kind: 'socket', path: '/tmp/b.sock', source: 'AIRLOCK_URL' });
    assert.deepEqual(resolveServer({ socket: 'rel.sock' }, {}, absent), { kind: 'socket', path: join(process.cwd(), 'rel.sock'), source: '--socket' });
  });

  it('refuses ambiguous or malformed choices, naming the option', () => {
    assert.throws(() => resolveServer({ url: 'http://a', socket: '/b' }, {}, absent), usage(/^--url and --socket: give one of them/));
    assert.throws(() => resolveServer({ url: 'unix:relative.sock' }, {}, absent), usage(/^--url: "unix:relative.sock" must name an absolute socket path/));
    assert.throws(() => resolveServer({}, { AIRLOCK_URL: 'ftp://x' }, absent), usage(/^AIRLOCK_URL: "ftp:\/\/x" must be an http or https URL/));
    assert.throws(() => resolveServer({ url: 'nope' }, {}, absent), usage(/^--url: "nope" is not a URL/));
    assert.throws(() => resolveServer({ socket: '' }, {}, absent), usage(/^--socket: needs a socket path/));
  });

  it('the key: --key, else AIRLOCK_KEY, else unsigned', () => {
    assert.deepEqual(resolveKey({ key: '/a' }, { AIRLOCK_KEY: '/b' }), { path: '/a', source: '--key' });
    assert.deepEqual(resolveKey({}, { AIRLOCK_KEY: '/b' }), { path: '/b', source: 'AIRLOCK_KEY' });
    assert.equal(resolveKey({}, { AIRLOCK_KEY: '' }), undefined);
    assert.throws(() => resolveKey({ key: '' }, {}), usage(/^--key: needs a key file/));
  });
});

describe('CLI error messages', () => {
  it('a 401 says how to authenticate: a key when unsigned, registration when signed', () => {
    const refused = new AirlockError('request is not signed', { code: 'signature_missing', status: 401 });
    assert.equal(
      describeError(refused, { target: 'http://h:1', source: 'AIRLOCK_URL' }),
      'request is not signed [signature_missing]; the server at http://h:1 wants signed requests: pass --key FILE or set AIRLOCK_KEY (a key registered with `airlock principals add`), or use the local socket (--socket, default /run/airlock/api.sock)',
    );
    const unknown = new AirlockError('no active key with keyid K', { code: 'key_unknown', status: 401 });
    assert.match(describeError(unknown, { target: 'http://h:1', keyId: 'K', keySource: 'AIRLOCK_KEY' }), /refused key K \(from AIRLOCK_KEY\): is it registered/);
    assert.equal(describeError(new AirlockError('no', { code: 'forbidden', status: 403 }), { target: 'http://h:1', keyId: 'K' }), 'no [forbidden]');
  });

  it('an unreachable server names the target and what chose it', () => {
    const denied = Object.assign(new Error('connect EACCES'), { code: 'EACCES' });
    const network = new NetworkError('GET /x: fetch failed', { code: 'network_error', cause: new TypeError('fetch failed', { cause: denied }) });
    assert.equal(
      describeError(network, { target: 'unix socket /run/airlock/api.sock', source: 'the default socket, present on this host' }),
      'cannot reach the server at unix socket /run/airlock/api.sock (EACCES); is `airlock serve` running? (may your user use the socket? it belongs to the airlock group) (chosen by the default socket, present on this host; --url, --socket, AIRLOCK_URL or AIRLOCK_SOCKET pick another)',
    );
  });
});

describe('connectionFromOptions', () => {
  let dir: string;
  let key: WrittenKeyPair;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-cli-conn-'));
    key = await writeNewKeyPair(join(dir, 'agent'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads the key for signing; a socket connects to http://localhost', async () => {
    const conn = await connectionFromOptions({ socket: join(dir, 's.sock') }, { AIRLOCK_KEY: key.privateKeyPath }, absent);
    assert.equal(conn.keyId, key.keyId);
    assert.equal(conn.keySource, 'AIRLOCK_KEY');
    assert.equal(conn.options.baseUrl, 'http://localhost');
    assert.equal(conn.target, `unix socket ${join(dir, 's.sock')}`);
    assert.equal(conn.options.signer?.keyId, key.keyId);
    const unsigned = await connectionFromOptions({ url: 'http://127.0.0.1:9' }, {}, absent);
    assert.equal(unsigned.options.signer, undefined);
    assert.equal(unsigned.keyId, undefined);
  });

  it('a key file others can read is a usage error naming where it came from', async () => {
    const loose = await writeNewKeyPair(join(dir, 'loose'));
    chmodSync(loose.privateKeyPath, 0o644);
    await assert.rejects(connectionFromOptions({ key: loose.privateKeyPath }, {}, absent), usage(/^--key: private key .* is accessible by group or others/));
    await assert.rejects(connectionFromOptions({}, { AIRLOCK_KEY: join(dir, 'absent') }, absent), usage(/^AIRLOCK_KEY: ENOENT/));
  });
});

describe('airlock sandbox signs its requests', () => {
  let dir: string;
  let key: WrittenKeyPair;
  let socketPath: string;
  let onSocket: VerifyingServer;
  let onTcp: VerifyingServer;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'airlock-cli-signed-'));
    key = await writeNewKeyPair(join(dir, 'agent'));
    const keys = new Map([[key.keyId, await loadPublicKeyFile(key.publicKeyPath)]]);
    socketPath = join(dir, 'api.sock');
    onSocket = await startVerifyingServer({ keys, socketPath });
    onTcp = await startVerifyingServer({ keys });
  });
  after(async () => {
    await onSocket?.close();
    await onTcp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('over the socket with --key: ls, a streamed exec and files put verify', async () => {
    onSocket.seen.length = 0;
    const flags = ['--socket', socketPath, '--key', key.privateKeyPath];
    const ls = await runCli(['sandbox', 'ls', ...flags]);
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^ID\s+RUNTIME/);
    const exec = await runCli(['sandbox', 'exec', 's-1', ...flags, '--', 'echo', 'hello']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, 'hello\n');
    const put = await runCli(['sandbox', 'files', 'put', 's-1', '-', '/tmp/n.txt', ...flags], { input: 'piped bytes\n' });
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout, '/tmp/n.txt  12 bytes\n');
    assert.deepEqual(
      onSocket.seen.map((r) => [r.refusal ?? 'verified', r.method, r.targetUri, r.keyid]),
      [
        ['verified', 'GET', 'http://localhost/api/v1/sandboxes', key.keyId],
        ['verified', 'POST', 'http://localhost/api/v1/sandboxes/s-1/exec', key.keyId],
        ['verified', 'PUT', 'http://localhost/api/v1/sandboxes/s-1/files?path=%2Ftmp%2Fn.txt', key.keyId],
      ],
    );
  });

  it('AIRLOCK_URL=unix:… and AIRLOCK_KEY do the same; over TCP too', async () => {
    onSocket.seen.length = 0;
    const viaEnv = await runCli(['sandbox', 'kill', 's-1'], { env: { AIRLOCK_URL: `unix:${socketPath}`, AIRLOCK_KEY: key.privateKeyPath } });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    // kill reads the sandbox first (an ended one is reported, not killed again), then deletes it: both signed.
    assert.deepEqual(onSocket.seen.map((r) => [r.refusal, r.method]), [[undefined, 'GET'], [undefined, 'DELETE']]);
    const tcp = await runCli(['sandbox', 'create', '--url', onTcp.baseUrl, '--key', key.privateKeyPath, '--memory', '64']);
    assert.equal(tcp.code, 0, tcp.stderr);
    assert.equal(tcp.stdout, 's-1\n');
    assert.equal(onTcp.seen.at(-1)?.targetUri, `${onTcp.baseUrl}/api/v1/sandboxes`);
    assert.deepEqual(onTcp.seen.at(-1)?.components, ['@method', '@target-uri', 'content-digest']);
  });

  it('unsigned, the 401 says to pass --key or AIRLOCK_KEY (exit 1), and never prints a signature', async () => {
    const run = await runCli(['sandbox', 'ls'], { env: { AIRLOCK_SOCKET: socketPath } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^airlock: request is not signed.* \[signature_missing\]; the server at unix socket .*api\.sock wants signed requests: pass --key FILE or set AIRLOCK_KEY/);
    const stranger = await writeNewKeyPair(join(dir, 'stranger'));
    const refused = await runCli(['sandbox', 'ls', '--url', onTcp.baseUrl, '--key', stranger.privateKeyPath]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`\\[key_unknown\\]; the server at ${onTcp.baseUrl} refused key ${stranger.keyId} \\(from --key\\)`));
    const sent = String(onTcp.seen.at(-1)?.headers['signature']).replace(/^sig1=:|:$/g, '');
    assert.ok(sent.length > 40 && !refused.stderr.includes(sent));
  });
});
