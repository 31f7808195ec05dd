/**
 * Peer credentials of real unix-socket connections: root, a process running as another uid, a
 * socket that is not a connection of an attached server, and lookups that must fail closed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ControlError } from './control-error.ts';
import { PEERCRED_CONTROL, PeerCredentialsReader, ensurePeerCredentialsHelper } from './peer-credentials.ts';
import { findExecutable } from './which.ts';

const work = mkdtempSync('/tmp/airlock-peercred-');
// Reachable by the other uid's client: the directory is searchable, the socket connectable.
chmodSync(work, 0o755);
after(() => rmSync(work, { recursive: true, force: true }));

/** A server whose accepted connections are reported, in order, to `accepted`. */
async function listen(path: string, reader: PeerCredentialsReader | undefined): Promise<{ server: Server; accepted: Socket[] }> {
  const server = createServer();
  const accepted: Socket[] = [];
  reader?.attach(server);
  server.on('connection', (socket) => accepted.push(socket));
  server.listen(path);
  await once(server, 'listening');
  chmodSync(path, 0o777);
  return { server, accepted };
}

async function nextConnection(accepted: Socket[], index: number): Promise<Socket> {
  for (let i = 0; i < 500 && accepted.length <= index; i++) await new Promise((r) => setTimeout(r, 10));
  const socket = accepted[index];
  assert.ok(socket, 'the server accepted the connection');
  return socket;
}

const skip = findExecutable('gcc') === undefined ? 'gcc is not installed (the helper is built with it)' : false;

describe('PeerCredentialsReader', { skip }, () => {
  let reader: PeerCredentialsReader;
  before(async () => {
    reader = await PeerCredentialsReader.create({ stateDir: `${work}/state` });
  });

  it('builds its helper once into <stateDir>/peercred/<key>/ and reuses it', async () => {
    const first = await ensurePeerCredentialsHelper({ stateDir: `${work}/state` });
    assert.match(first, new RegExp(`^${work}/state/peercred/[0-9a-f]{64}/airlock-peercred$`));
    assert.equal(await ensurePeerCredentialsHelper({ stateDir: `${work}/state` }), first);
  });

  it('reads root (uid 0, gid 0) and the connecting pid', { skip: process.getuid?.() !== 0 ? 'runs as root' : false }, async () => {
    const { server, accepted } = await listen(`${work}/root.sock`, reader);
    const client = connect(`${work}/root.sock`);
    try {
      await once(client, 'connect');
      assert.deepEqual(await reader.lookup(await nextConnection(accepted, 0)), { uid: 0, gid: 0, pid: process.pid });
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('reads the uid, gid and pid of a client running as another user', { skip: process.getuid?.() !== 0 ? 'needs root to start a client as uid 65534' : false }, async () => {
    const path = `${work}/other.sock`;
    const { server, accepted } = await listen(path, reader);
    // The client connects, says so, and stays until the server has looked at it.
    const code = `const s = require('node:net').connect(${JSON.stringify(path)}); s.on('connect', () => console.log('connected')); s.on('data', () => s.end()); s.on('error', (e) => { console.error(e.message); process.exit(3); });`;
    const child = spawn(process.execPath, ['-e', code], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    try {
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const [line] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit').then(() => assert.fail(`client exited: ${stderr}`))])) as [Buffer];
      assert.equal(line.toString().trim(), 'connected');
      const socket = await nextConnection(accepted, 0);
      assert.deepEqual(await reader.lookup(socket), { uid: 65534, gid: 65534, pid: child.pid });
      socket.write('done');
      const [status] = (await once(child, 'exit')) as [number];
      assert.equal(status, 0, stderr);
    } finally {
      child.kill();
      server.close();
    }
  });

  it('the connection keeps working while and after its credentials are read', async () => {
    const server = createServer((socket) => socket.on('data', (d) => socket.write(d)));
    reader.attach(server);
    const lookups: Promise<unknown>[] = [];
    server.on('connection', (socket) => lookups.push(reader.lookup(socket)));
    server.listen(`${work}/echo.sock`);
    await once(server, 'listening');
    const client = connect(`${work}/echo.sock`);
    try {
      await once(client, 'connect');
      client.write('ping');
      const [echo] = (await once(client, 'data')) as [Buffer];
      assert.equal(echo.toString(), 'ping');
      assert.equal(((await lookups[0]) as { uid: number }).uid, process.getuid?.());
      client.write('again');
      const [second] = (await once(client, 'data')) as [Buffer];
      assert.equal(second.toString(), 'again');
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('a socket that is not a connection of an attached server has no credentials (undefined)', async () => {
    const { server, accepted } = await listen(`${work}/plain.sock`, undefined);
    const client = connect(`${work}/plain.sock`);
    try {
      await once(client, 'connect');
      assert.equal(await reader.lookup(await nextConnection(accepted, 0)), undefined);
      assert.equal(await reader.lookup(client), undefined, 'the client side of a connection');
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('fails closed: a helper that cannot run, or a socket without SO_PEERCRED, rejects the lookup', async () => {
    const isPeerControl = (e: unknown) => e instanceof ControlError && e.control === PEERCRED_CONTROL;
    for (const helper of [`${work}/no-such-helper`, '/bin/false']) {
      const broken = new PeerCredentialsReader(helper);
      const { server, accepted } = await listen(`${work}/broken-${accepted_suffix(helper)}.sock`, broken);
      const client = connect(`${work}/broken-${accepted_suffix(helper)}.sock`);
      try {
        await once(client, 'connect');
        await assert.rejects(broken.lookup(await nextConnection(accepted, 0)), isPeerControl, helper);
      } finally {
        client.destroy();
        server.close();
      }
    }
    // TCP has no SO_PEERCRED: the helper refuses, and so does the lookup.
    const tcp = createServer();
    const accepted: Socket[] = [];
    reader.attach(tcp);
    tcp.on('connection', (socket) => accepted.push(socket));
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const client = connect((tcp.address() as { port: number }).port, '127.0.0.1');
    try {
      await once(client, 'connect');
      await assert.rejects(reader.lookup(await nextConnection(accepted, 0)), (e: unknown) => isPeerControl(e) && /SO_PEERCRED/.test((e as Error).message));
    } finally {
      client.destroy();
      tcp.close();
    }
  });
});

function accepted_suffix(helper: string): string {
  return helper.replace(/[^a-z]/g, '');
}
