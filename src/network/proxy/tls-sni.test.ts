import assert from 'node:assert/strict';
import net from 'node:net';
import { before, describe, it } from 'node:test';
import tls from 'node:tls';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './tls-sni.ts';

/** Captures the first flight a real tls.connect sends, through a raw TCP server. */
async function captureClientHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      server.once('connection', (socket) => {
        let bytes = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
          if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
            socket.destroy();
            resolve(bytes);
          }
        });
      });
      const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
      client.on('error', () => {});
      setTimeout(() => reject(new Error('no ClientHello captured')), 3000).unref();
    });
  } finally {
    server.close();
  }
}

/** A synthetic ClientHello record around the given extensions. */
function syntheticHello(extensions: Buffer[]): Buffer {
  const ext = Buffer.concat(extensions);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]), Buffer.alloc(32), Buffer.from([0]), // version, random, empty session id
    Buffer.from([0, 2, 0x13, 0x01]), Buffer.from([1, 0]), // one cipher suite, null compression
    u16(ext.length), ext,
  ]);
  const handshake = Buffer.concat([Buffer.from([1]), u24(body.length), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

function sniExtension(...names: string[]): Buffer {
  const list = Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([0]), u16(n.length), Buffer.from(n, 'latin1')])));
  const data = Buffer.concat([u16(list.length), list]);
  return Buffer.concat([u16(0), u16(data.length), data]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 255, (n >> 8) & 255, n & 255]);
}

/** Re-frames a single-record ClientHello into records of at most `size` payload bytes. */
function splitIntoRecords(record: Buffer, size: number): Buffer {
  const payload = record.subarray(5);
  const parts: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) {
    const chunk = payload.subarray(i, i + size);
    parts.push(Buffer.concat([record.subarray(0, 3), u16(chunk.length), chunk]));
  }
  return Buffer.concat(parts);
}

describe('parseClientHello', () => {
  let named: Buffer;
  let unnamed: Buffer;
  before(async () => {
    named = await captureClientHello({ servername: 'Api.Example.com' });
    unnamed = await captureClientHello({ servername: '' });
  });

  it('reads the SNI of a real ClientHello', () => {
    assert.deepEqual(parseClientHello(named), { kind: 'client_hello', serverName: 'api.example.com' });
  });

  it('returns null for a real ClientHello without SNI', () => {
    assert.deepEqual(parseClientHello(unnamed), { kind: 'client_hello', serverName: null });
  });

  it('asks for more bytes on every strict prefix, never throwing', () => {
    for (let length = 0; length < named.length; length += 1) {
      assert.deepEqual(parseClientHello(named.subarray(0, length)), { kind: 'need_more' }, `prefix ${length}`);
    }
  });

  it('reads a ClientHello spread over several records', () => {
    const split = splitIntoRecords(named, 7);
    assert.ok(split.length > named.length + 5 * 10);
    assert.deepEqual(parseClientHello(split), { kind: 'client_hello', serverName: 'api.example.com' });
    assert.deepEqual(parseClientHello(split.subarray(0, split.length - 1)), { kind: 'need_more' });
  });

  it('ignores bytes after the ClientHello', () => {
    assert.deepEqual(parseClientHello(Buffer.concat([named, Buffer.from('trailing')])), { kind: 'client_hello', serverName: 'api.example.com' });
  });

  it('says not_tls for other protocols', () => {
    assert.deepEqual(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n\r\n')), { kind: 'not_tls' });
    assert.deepEqual(parseClientHello(Buffer.from('SSH-2.0-OpenSSH\r\n')), { kind: 'not_tls' });
    assert.deepEqual(parseClientHello(Buffer.from([0x80, 0x2e, 0x01])), { kind: 'not_tls' }); // SSLv2 hello
    assert.deepEqual(parseClientHello(Buffer.from([0x16, 0x02])), { kind: 'not_tls' });
  });

  it('says malformed for broken structure', () => {
    const cases: Buffer[] = [
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), // empty record
      Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), // record longer than allowed
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])]), // ServerHello, not ClientHello
      Buffer.concat([named.subarray(0, 5), Buffer.from([0x01, 0x00, 0x40, 0x00])]), // declares a 16 KiB hello
      syntheticHello([sniExtension('a.com'), sniExtension('b.com')]), // duplicate extension
      syntheticHello([sniExtension('a.com', 'b.com')]), // two host names
      syntheticHello([sniExtension('a\u0000.com')]), // NUL in the name
      syntheticHello([sniExtension('')]), // empty name
    ];
    for (const [index, bytes] of cases.entries()) assert.equal(parseClientHello(bytes).kind, 'malformed', `case ${index}`);
  });

  it('rejects a handshake interrupted by another record type', () => {
    const split = splitIntoRecords(named, 50);
    const alert = Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]);
    assert.equal(parseClientHello(Buffer.concat([split.subarray(0, 55), alert])).kind, 'malformed');
  });

  it('reads a synthetic SNI-bearing hello and a hello without extensions', () => {
    assert.deepEqual(parseClientHello(syntheticHello([sniExtension('Example.org')])), { kind: 'client_hello', serverName: 'example.org' });
    assert.deepEqual(parseClientHello(syntheticHello([])), { kind: 'client_hello', serverName: null });
  });

  it('gives up as malformed once 16 KiB are buffered without a complete hello', () => {
    const tiny = splitIntoRecords(Buffer.concat([named.subarray(0, 5), Buffer.from([0x01, 0x00, 0x3f, 0x00]), Buffer.alloc(MAX_CLIENT_HELLO_BYTES)]), 1);
    assert.equal(parseClientHello(tiny.subarray(0, MAX_CLIENT_HELLO_BYTES + 10)).kind, 'malformed');
  });

  it('says malformed when a length inside the hello is wrong', () => {
    const sessionIdLengthAt = 5 + 4 + 2 + 32;
    const bytes = Buffer.from(named);
    bytes[sessionIdLengthAt] = 0xff; // session id longer than the message
    assert.equal(parseClientHello(bytes).kind, 'malformed');
  });

  it('never throws on corrupted or truncated real hellos', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const valid = new Set(['need_more', 'not_tls', 'malformed', 'client_hello']);
    for (let round = 0; round < 3000; round += 1) {
      const bytes = Buffer.from(named);
      for (let flips = 1 + (random() % 4); flips > 0; flips -= 1) bytes[5 + (random() % (bytes.length - 5))] = random() & 255;
      const cut = round % 2 === 0 ? bytes.length : random() % (bytes.length + 1);
      const verdict = parseClientHello(bytes.subarray(0, cut));
      assert.ok(valid.has(verdict.kind), verdict.kind);
    }
  });
});
