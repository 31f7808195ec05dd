import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import {
  closedWithin, makeCertificate, openConnect, startTestProxy, startTlsEchoServer, waitFor, type TestServer,
} from './test-fixtures.ts';

type TlsServer = TestServer & { serverNames: (string | false | null)[] };

/** Completes a TLS handshake over the tunnel and does one echo round trip. */
function tlsRoundTrip(socket: net.Socket, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, servername, rejectUnauthorized: false }, () => secure.write('ping'));
    secure.once('data', (chunk: Buffer) => {
      resolve(chunk.toString());
      secure.destroy();
    });
    secure.once('error', reject);
  });
}

/** Starts a TLS handshake over the tunnel and reports whether the tunnel was closed on it. */
function tlsRefused(socket: net.Socket, servername: string): Promise<boolean> {
  return new Promise((resolve) => {
    const secure = tls.connect({ socket, servername, rejectUnauthorized: false });
    secure.once('secureConnect', () => resolve(false));
    secure.once('error', () => resolve(true));
    secure.once('close', () => resolve(true));
  });
}

describe('egress proxy: CONNECT', { timeout: 30_000 }, () => {
  let server: TlsServer;
  before(async () => {
    server = await startTlsEchoServer(makeCertificate());
  });
  after(() => server.close());

  it('tunnels TLS to an allowlisted IP literal without SNI', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${server.port}`]);
    t.after(close);
    const { socket, head } = await openConnect(port, `127.0.0.1:${server.port}`);
    assert.equal(head, 'HTTP/1.1 200 Connection Established');
    assert.equal(await tlsRoundTrip(socket, ''), 'echo:ping');
    await waitFor(() => decisions.length === 1);
    assert.deepEqual([decisions[0]?.kind, decisions[0]?.allowed, decisions[0]?.reason, decisions[0]?.address], ['connect', true, 'allowlisted', '127.0.0.1']);
  });

  it('tunnels TLS to an allowlisted name when the SNI names it', async (t) => {
    const { port, decisions, close } = await startTestProxy([`tls.test:${server.port}`], {
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    }, true);
    t.after(close);
    const { socket, head } = await openConnect(port, `TLS.test.:${server.port}`);
    assert.equal(head, 'HTTP/1.1 200 Connection Established');
    assert.equal(await tlsRoundTrip(socket, 'tls.test'), 'echo:ping');
    assert.equal(server.serverNames.at(-1), 'tls.test');
    await waitFor(() => decisions.length === 1);
    assert.deepEqual([decisions[0]?.host, decisions[0]?.reason], ['tls.test', 'allowlisted']);
  });

  const sniCases: [string, string, string][] = [
    ['an SNI naming another host', 'evil.test', 'sni_mismatch'],
    ['no SNI for a name', '', 'sni_missing'],
  ];
  for (const [title, servername, reason] of sniCases) {
    it(`closes the tunnel on ${title}, before connecting upstream`, async (t) => {
      const { port, decisions, close } = await startTestProxy([`tls.test:${server.port}`], {
        resolve: async () => [{ address: '127.0.0.1', family: 4 }],
      }, true);
      t.after(close);
      const before = server.connections();
      const { socket, head } = await openConnect(port, `tls.test:${server.port}`);
      assert.equal(head, 'HTTP/1.1 200 Connection Established');
      assert.equal(await tlsRefused(socket, servername), true);
      await waitFor(() => decisions.length === 1);
      assert.deepEqual([decisions[0]?.allowed, decisions[0]?.reason], [false, reason]);
      assert.equal(server.connections(), before, 'the upstream saw no connection');
    });
  }

  it('closes an IP-literal tunnel whose ClientHello carries an SNI', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${server.port}`]);
    t.after(close);
    const before = server.connections();
    const { socket } = await openConnect(port, `127.0.0.1:${server.port}`);
    assert.equal(await tlsRefused(socket, 'allowed.example'), true);
    await waitFor(() => decisions.length === 1);
    assert.equal(decisions[0]?.reason, 'sni_mismatch');
    assert.equal(server.connections(), before);
  });

  it('closes a tunnel whose first bytes are not TLS', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${server.port}`]);
    t.after(close);
    const before = server.connections();
    const { socket } = await openConnect(port, `127.0.0.1:${server.port}`);
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    assert.equal(await closedWithin(socket, 2000), true);
    await waitFor(() => decisions.length === 1);
    assert.equal(decisions[0]?.reason, 'not_tls');
    assert.equal(server.connections(), before);
  });

  it('closes a tunnel whose ClientHello is malformed', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${server.port}`]);
    t.after(close);
    const { socket } = await openConnect(port, `127.0.0.1:${server.port}`);
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]));
    assert.equal(await closedWithin(socket, 2000), true);
    await waitFor(() => decisions.length === 1);
    assert.equal(decisions[0]?.reason, 'tls_malformed');
  });

  it('closes a tunnel that never sends a ClientHello', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${server.port}`], { clientHelloTimeoutMs: 200 });
    t.after(close);
    const { socket } = await openConnect(port, `127.0.0.1:${server.port}`);
    socket.write(Buffer.from([0x16, 0x03])); // a start, then silence
    assert.equal(await closedWithin(socket, 2000), true);
    await waitFor(() => decisions.length === 1);
    assert.equal(decisions[0]?.reason, 'tls_timeout');
  });

  it('accepts a ClientHello that arrives a few bytes at a time', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${server.port}`]);
    t.after(close);
    const { socket } = await openConnect(port, `127.0.0.1:${server.port}`);
    const slow = new (await import('node:stream')).Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        let offset = 0;
        const drip = () => {
          if (offset >= chunk.length) return callback();
          socket.write(chunk.subarray(offset, offset + 3));
          offset += 3;
          setImmediate(drip);
        };
        drip();
      },
    });
    socket.on('data', (c: Buffer) => slow.push(c));
    socket.on('end', () => slow.push(null));
    socket.resume();
    const secure = tls.connect({ socket: slow, servername: '', rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    secure.destroy();
  });

  it('refuses before answering 200: not allowlisted, metadata, loopback by name', async (t) => {
    const { port, decisions, close } = await startTestProxy(['example.com', `localhost:${server.port}`], {
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    t.after(close);
    const cases: [string, string][] = [
      ['evil.example:443', 'not_allowlisted'],
      ['169.254.169.254:443', 'cloud_metadata'],
      ['[::ffff:a9fe:a9fe]:80', 'cloud_metadata'],
      [`LOCALHOST.:${server.port}`, 'loopback_address'],
      [`0x7f.0.0.1:${server.port}`, 'loopback_address'],
      [`[::ffff:7f00:1]:${server.port}`, 'loopback_address'],
      ['example.com', 'bad_target'],
      ['user@example.com:443', 'userinfo_in_url'],
      ['api.airlock.internal:443', 'unknown_service'],
    ];
    const before = server.connections();
    for (const [authority, reason] of cases) {
      const { socket, head } = await openConnect(port, authority);
      assert.match(head, /^HTTP\/1\.1 403 Forbidden/, authority);
      assert.match(head, new RegExp(`X-Airlock-Deny-Reason: ${reason}`), authority);
      assert.equal(await closedWithin(socket, 3000), true, `${authority} closed`);
    }
    assert.deepEqual(decisions.map((d) => d.reason), cases.map(([, reason]) => reason));
    assert.equal(server.connections(), before);
  });

  it('accepts any spelling of an allowlisted IP literal', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${server.port}`]);
    t.after(close);
    for (const authority of [`0x7f.0.0.1:${server.port}`, `[::ffff:7f00:1]:${server.port}`, `2130706433:${server.port}`]) {
      const { socket, head } = await openConnect(port, authority);
      assert.equal(head, 'HTTP/1.1 200 Connection Established', authority);
      assert.equal(await tlsRoundTrip(socket, ''), 'echo:ping', authority);
    }
  });

  it('close() ends open tunnels', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${server.port}`]);
    t.after(close);
    const { socket } = await openConnect(port, `127.0.0.1:${server.port}`);
    const secure = tls.connect({ socket, servername: '', rejectUnauthorized: false });
    await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
    secure.on('error', () => {});
    await close();
    assert.equal(await closedWithin(socket, 2000), true);
  });
});
