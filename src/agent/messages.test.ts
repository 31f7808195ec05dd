import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentFileError, AgentProtocolError, errnoName } from './errors.ts';
import { decodeEntry, decodeError, decodeExit, encodeExec, encodePath, encodeReadFile, encodeSignal } from './messages.ts';

/** Reads back the EXEC layout the agent parses. */
function parseExec(p: Buffer): { flags: number; strings: string[] } {
  const count = 1 + p.readUInt32LE(1) + p.readUInt32LE(5);
  const strings: string[] = [];
  let off = 9;
  for (let i = 0; i < count; i++) {
    const n = p.readUInt32LE(off);
    strings.push(p.subarray(off + 4, off + 4 + n).toString('utf8'));
    off += 4 + n;
  }
  assert.equal(off, p.length);
  return { flags: p.readUInt8(0), strings };
}

test('EXEC carries cwd, argv and exactly the given environment', () => {
  const p = encodeExec({ argv: ['sh', '-c', 'échø $A'], env: { A: 'b=c', PATH: '/bin' }, cwd: '/tmp', stdin: true });
  assert.deepEqual(parseExec(p), { flags: 1, strings: ['/tmp', 'sh', '-c', 'échø $A', 'A=b=c', 'PATH=/bin'] });
  assert.equal(parseExec(encodeExec({ argv: ['true'], env: {}, cwd: '/', stdin: false })).flags, 0);
});

test('EXEC refuses what C strings or environ would mangle', () => {
  assert.throws(() => encodeExec({ argv: [], env: {}, cwd: '/', stdin: false }), /argv is empty/);
  assert.throws(() => encodeExec({ argv: ['a\0b'], env: {}, cwd: '/', stdin: false }), /NUL/);
  assert.throws(() => encodeExec({ argv: ['a'], env: { 'A=B': 'c' }, cwd: '/', stdin: false }), /invalid environment/);
  assert.throws(() => encodeExec({ argv: ['a'], env: { '': 'c' }, cwd: '/', stdin: false }), /invalid environment/);
  assert.throws(() => encodeExec({ argv: ['a'], env: { A: 'x\0y' }, cwd: '/', stdin: false }), /NUL/);
  assert.throws(() => encodeExec({ argv: ['a'.repeat(1 << 20)], env: {}, cwd: '/', stdin: false }), RangeError);
});

test('paths: empty or NUL refused as EINVAL, overlong as ENAMETOOLONG', () => {
  assert.throws(() => encodePath(''), (e: unknown) => e instanceof AgentFileError && e.code === 'EINVAL');
  assert.throws(() => encodePath('/tmp/a\0/etc/passwd'), (e: unknown) => e instanceof AgentFileError && e.code === 'EINVAL');
  assert.throws(() => encodePath(`/${'a'.repeat(4096)}`), (e: unknown) => e instanceof AgentFileError && e.code === 'ENAMETOOLONG');
  assert.equal(encodeReadFile('/x', 2 ** 40).readBigUInt64LE(0), 2n ** 40n);
  assert.throws(() => encodeReadFile('/x', -1), RangeError);
});

test('signals by name or number, within 1..64', () => {
  assert.equal(encodeSignal('SIGKILL').readUInt32LE(0), 9);
  assert.equal(encodeSignal(15).readUInt32LE(0), 15);
  assert.throws(() => encodeSignal(0), TypeError);
  assert.throws(() => encodeSignal('SIGNOPE' as NodeJS.Signals), TypeError);
});

test('EXIT: a code, or a signal name', () => {
  const exit = (code: number, sig: number) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(code, 0);
    b.writeUInt32LE(sig, 4);
    return decodeExit(b);
  };
  assert.deepEqual(exit(3, 0), { code: 3, signal: null });
  assert.deepEqual(exit(0, 9), { code: null, signal: 'SIGKILL' });
  assert.deepEqual(exit(0, 6), { code: null, signal: 'SIGABRT' });
  assert.throws(() => decodeExit(Buffer.alloc(7)), AgentProtocolError);
});

test('ERROR carries the errno name', () => {
  const b = Buffer.concat([Buffer.from([40, 0, 0, 0]), Buffer.from('too many links')]);
  assert.deepEqual(decodeError(b), { errno: 40, code: 'ELOOP', message: 'too many links' });
  assert.equal(errnoName(11), 'EAGAIN');
  assert.equal(errnoName(2), 'ENOENT');
  assert.equal(errnoName(4000), 'E4000');
});

test('ENTRY: kind, mode, size, mtime and name', () => {
  const b = Buffer.alloc(25);
  b.writeUInt8('l'.charCodeAt(0), 0);
  b.writeUInt32LE(0o777, 1);
  b.writeBigUInt64LE(12n, 5);
  b.writeBigInt64LE(1_700_000_000n, 13);
  b.writeUInt32LE(500_000_000, 21);
  const entry = decodeEntry(Buffer.concat([b, Buffer.from('link')]));
  assert.deepEqual(entry, { type: 'symlink', mode: 0o777, size: 12, mtime: new Date(1_700_000_000_500), name: 'link' });
  assert.throws(() => decodeEntry(Buffer.alloc(24)), AgentProtocolError);
});
