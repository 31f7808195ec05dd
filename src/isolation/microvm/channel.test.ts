import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame } from '../../agent/protocol.ts';
import { EV_COUNTERS, EV_DENIAL, GuestCounterFilter, handshakeBytes, type GuestCounters, type GuestDenial } from './channel.ts';

function counters(values: [number, number, number, number, number]): Buffer {
  const payload = Buffer.alloc(40);
  values.forEach((v, i) => payload.writeBigUInt64LE(BigInt(v), i * 8));
  return encodeFrame(EV_COUNTERS, 0, payload);
}

async function through(chunks: Buffer[]): Promise<{ out: Buffer; seen: GuestCounters[] }> {
  const seen: GuestCounters[] = [];
  const filter = new GuestCounterFilter((c) => seen.push(c));
  const parts: Buffer[] = [];
  filter.on('data', (c: Buffer) => parts.push(c));
  for (const chunk of chunks) filter.write(chunk);
  filter.end();
  await new Promise((resolve) => filter.once('end', resolve));
  return { out: Buffer.concat(parts), seen };
}

describe('guest channel', () => {
  it('takes COUNTERS frames out of the agent stream, byte-split anywhere, and passes the rest unchanged', async () => {
    const before = encodeFrame(0x82, 1, Buffer.from('out'));
    const exit = encodeFrame(0x84, 1, Buffer.alloc(8));
    const stream = Buffer.concat([before, counters([1, 2, 3 << 20, 1, 1]), exit]);
    for (const split of [1, 5, 9, 13, 20, stream.length - 1]) {
      const { out, seen } = await through([stream.subarray(0, split), stream.subarray(split)]);
      assert.deepEqual(out, Buffer.concat([before, exit]), `split at ${split}`);
      assert.deepEqual(seen, [{ oomKills: 1, pidsLimitHits: 2, memoryPeakBytes: 3 << 20, scratchFull: true, openFilesLimitHit: true }]);
    }
  });

  it('takes DENIAL frames out too, reporting syscall number and pid', async () => {
    const denials: GuestDenial[] = [];
    const filter = new GuestCounterFilter(() => undefined, (d) => denials.push(d));
    const payload = Buffer.alloc(8);
    payload.writeUInt32LE(163, 0);
    payload.writeUInt32LE(42, 4);
    const out = encodeFrame(0x82, 1, Buffer.from('x'));
    const parts: Buffer[] = [];
    filter.on('data', (c: Buffer) => parts.push(c));
    filter.end(Buffer.concat([encodeFrame(EV_DENIAL, 0, payload), out]));
    await new Promise((resolve) => filter.once('end', resolve));
    assert.deepEqual(denials, [{ syscallNr: 163, pid: 42 }]);
    assert.deepEqual(Buffer.concat(parts), out);
  });

  it('passes an oversized frame header on, for the agent client to refuse', async () => {
    const header = Buffer.alloc(9);
    header[0] = 0x82;
    header.writeUInt32LE((1 << 20) + 1, 5);
    const { out, seen } = await through([header]);
    assert.deepEqual(out, header);
    assert.deepEqual(seen, []);
  });

  it('handshake: the 32-byte secret, the host clock and fresh entropy, then scratch, memory, pids and open files as u32 LE', () => {
    const secret = Buffer.alloc(32, 7);
    const bytes = handshakeBytes(secret, { memoryMb: 64, cpuCores: 1, pids: 32, timeoutSeconds: 1, scratchMb: 16, outputBytes: 1, openFiles: 128 });
    assert.deepEqual(bytes.subarray(0, 32), secret);
    // Then room for the host's clock (set as the handshake is sent) and fresh entropy, new in every handshake (a restored guest must not share either).
    assert.equal(bytes.readBigUInt64LE(32), 0n);
    const again = handshakeBytes(secret, { memoryMb: 64, cpuCores: 1, pids: 32, timeoutSeconds: 1, scratchMb: 16, outputBytes: 1, openFiles: 128 });
    assert.notDeepEqual(bytes.subarray(40, 72), again.subarray(40, 72), 'entropy differs between handshakes');
    assert.notDeepEqual(bytes.subarray(40, 72), Buffer.alloc(32));
    assert.deepEqual([0, 4, 8, 12].map((o) => bytes.readUInt32LE(72 + o)), [16, 64, 32, 128]);
    assert.throws(() => handshakeBytes(Buffer.alloc(16), { memoryMb: 1, cpuCores: 1, pids: 1, timeoutSeconds: 1, scratchMb: 1, outputBytes: 1, openFiles: 1 }), /32 bytes/);
    // Network none: a zeroed 20-byte block; no trust bundle, secrets or grants: a zero length and two zero counts; no reporting.
    assert.equal(bytes.length, 32 + 40 + 16 + 20 + 4 + 4 + 4 + 4);
    assert.deepEqual(bytes.subarray(88), Buffer.alloc(36));
  });

  it('handshake network block: mode, address and gateway in network order, prefix, resolv.conf; bad values refused naming network', () => {
    const limits = { memoryMb: 64, cpuCores: 1, pids: 32, timeoutSeconds: 1, scratchMb: 16, outputBytes: 1, openFiles: 128 };
    const full = handshakeBytes(Buffer.alloc(32), limits, { address: '10.200.0.2', prefixLength: 30, gateway: '10.200.0.1', resolvConf: 'nameserver 1.1.1.1\n' }).subarray(88);
    assert.equal(full.readUInt32LE(0), 1);
    assert.deepEqual([...full.subarray(4, 8)], [10, 200, 0, 2]);
    assert.equal(full.readUInt32LE(8), 30);
    assert.deepEqual([...full.subarray(12, 16)], [10, 200, 0, 1]);
    assert.equal(full.readUInt32LE(16), 19);
    assert.equal(full.subarray(20, 39).toString(), 'nameserver 1.1.1.1\n');
    const restricted = handshakeBytes(Buffer.alloc(32), limits, { address: '10.200.0.6', prefixLength: 30, gateway: undefined, resolvConf: undefined }).subarray(88);
    assert.deepEqual([...restricted.subarray(12, 16)], [0, 0, 0, 0]);
    assert.equal(restricted.length, 20 + 4 + 4 + 4 + 4);
    assert.throws(() => handshakeBytes(Buffer.alloc(32), limits, { address: '10.200.0.256', prefixLength: 30, gateway: undefined, resolvConf: undefined }), /network: 10\.200\.0\.256 is not an IPv4 address/);
    assert.throws(() => handshakeBytes(Buffer.alloc(32), limits, { address: '10.0.0.2', prefixLength: 31, gateway: undefined, resolvConf: undefined }), /network: prefix length 31/);
    assert.throws(() => handshakeBytes(Buffer.alloc(32), limits, { address: '10.0.0.2', prefixLength: 30, gateway: undefined, resolvConf: 'x'.repeat(5000) }), /network: resolv.conf is 5000 bytes/);
  });

  it('handshake files: the trust bundle, then each secret as name and value; bad names and sizes refused naming the secret, never its value', () => {
    const limits = { memoryMb: 64, cpuCores: 1, pids: 32, timeoutSeconds: 1, scratchMb: 16, outputBytes: 1, openFiles: 128 };
    const value = Buffer.from('s3cr3t-value');
    const given: Buffer[] = [];
    const secret = (name: string, bytes: Buffer) => ({ name, bytes: () => { const copy = Buffer.from(bytes); given.push(copy); return copy; } });
    const files = handshakeBytes(Buffer.alloc(32), limits, undefined, { trustBundle: 'PEM\n', secrets: [secret('api_key', value), secret('e', Buffer.alloc(0))] }).subarray(108);
    assert.equal(files.readUInt32LE(0), 4);
    assert.equal(files.subarray(4, 8).toString(), 'PEM\n');
    assert.equal(files.readUInt32LE(8), 2, 'two secrets');
    assert.equal(files.readUInt32LE(12), 7);
    assert.equal(files.subarray(16, 23).toString(), 'api_key');
    assert.equal(files.readUInt32LE(23), value.length);
    assert.deepEqual(files.subarray(27, 27 + value.length), value);
    assert.deepEqual([files.readUInt32LE(39), files.subarray(43, 44).toString(), files.readUInt32LE(44)], [1, 'e', 0]);
    assert.equal(files.length, 48 + 4 + 4, 'then a zero grant count and no reporting');
    // The values the secrets handed over are wiped once copied into the greeting.
    assert.ok(given.every((b) => b.every((byte) => byte === 0)));
    const refused = (secrets: { name: string; bytes: () => Buffer }[], pattern: RegExp) => assert.throws(() => handshakeBytes(Buffer.alloc(32), limits, undefined, { secrets }), (err: Error) => pattern.test(err.message) && !err.message.includes('s3cr3t'));
    refused([secret('API', value)], /secrets: "API" is not a secret name/);
    refused([secret('api_key', value), secret('api_key', value)], /secret api_key: is given twice/);
    refused([secret('big_key', Buffer.alloc(64 * 1024 + 1, 1))], /secret big_key: is 65537 bytes; the microvm guest takes at most 65536/);
    refused([{ name: 'gone_key', bytes: () => { throw new Error('provider down'); } }], /secret gone_key: its value could not be read: provider down/);
    assert.throws(() => handshakeBytes(Buffer.alloc(32), limits, undefined, { trustBundle: 'x'.repeat(8 * 1024 * 1024 + 1) }), /secrets\.broker_ca: the trust bundle is 8388609 bytes/);
  });

  it('handshake grants: after the secrets, each as flags (1 writable, 2 a file) and its path; too many or too long refused', () => {
    const limits = { memoryMb: 64, cpuCores: 1, pids: 32, timeoutSeconds: 1, scratchMb: 16, outputBytes: 1, openFiles: 128 };
    const grants = [{ sandboxPath: '/data', writable: false, file: false }, { sandboxPath: '/tmp/w', writable: true, file: false }, { sandboxPath: '/etc/a.conf', writable: false, file: true }];
    const block = handshakeBytes(Buffer.alloc(32), limits, undefined, { grants }).subarray(32 + 8 + 32 + 16 + 20 + 4 + 4);
    assert.equal(block.readUInt32LE(0), 3);
    let at = 4;
    for (const [flags, path] of [[0, '/data'], [1, '/tmp/w'], [2, '/etc/a.conf']] as const) {
      assert.deepEqual([block.readUInt32LE(at), block.readUInt32LE(at + 4), block.subarray(at + 8, at + 8 + path.length).toString()], [flags, path.length, path]);
      at += 8 + path.length;
    }
    assert.equal(block.readUInt32LE(at), 0, 'reporting flags: none asked');
    assert.equal(block.length, at + 4);
    const reporting = handshakeBytes(Buffer.alloc(32), limits, undefined, { reportDenials: true });
    assert.equal(reporting.readUInt32LE(reporting.length - 4), 1, 'seccomp denials asked for');
    const many = Array.from({ length: 65 }, (_, i) => ({ sandboxPath: `/g${i}`, writable: false, file: false }));
    assert.throws(() => handshakeBytes(Buffer.alloc(32), limits, undefined, { grants: many }), /filesystem_access: 65 grants; the microvm guest takes at most 64/);
    assert.throws(() => handshakeBytes(Buffer.alloc(32), limits, undefined, { grants: [{ sandboxPath: `/${'a'.repeat(1024)}`, writable: false, file: false }] }), /filesystem_access: .* is 1025 bytes/);
  });
});
