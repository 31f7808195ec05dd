import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentProtocolError } from './errors.ts';
import { encodeFrame, Ev, EVENT_TYPES, FrameDecoder, HEADER_BYTES, MAX_PAYLOAD, Req, REQUEST_TYPES } from './protocol.ts';

test('a frame is type, little-endian channel and length, then the payload', () => {
  const frame = encodeFrame(Ev.stdout, 0x01020304, Buffer.from('hi'));
  assert.deepEqual([...frame], [0x82, 4, 3, 2, 1, 2, 0, 0, 0, 0x68, 0x69]);
});

test('frames split across chunks at every byte are reassembled', () => {
  const wire = Buffer.concat([
    encodeFrame(Ev.ready, 0, Buffer.alloc(12, 7)),
    encodeFrame(Ev.stdout, 5, Buffer.from('hello world')),
    encodeFrame(Ev.end, 6),
    encodeFrame(Ev.data, 7, Buffer.alloc(70_000, 1)),
  ]);
  for (const size of [1, 2, 3, 8, 9, 10, 4096, wire.length]) {
    const decoder = new FrameDecoder(EVENT_TYPES);
    const frames = [];
    for (let off = 0; off < wire.length; off += size) frames.push(...decoder.push(wire.subarray(off, off + size)));
    assert.deepEqual(frames.map((f) => [f.type, f.channel, f.payload.length]), [[Ev.ready, 0, 12], [Ev.stdout, 5, 11], [Ev.end, 6, 0], [Ev.data, 7, 70_000]]);
    assert.equal(frames[1]?.payload.toString(), 'hello world');
    assert.equal(decoder.buffered, 0);
  }
});

test('an oversized frame is refused as soon as its header is in', () => {
  const decoder = new FrameDecoder(EVENT_TYPES);
  const head = Buffer.alloc(HEADER_BYTES);
  head.writeUInt8(Ev.data, 0);
  head.writeUInt32LE(MAX_PAYLOAD + 1, 5);
  assert.throws(() => decoder.push(head), AgentProtocolError);
  // Failed for good: later bytes are not parsed as a fresh stream.
  assert.throws(() => decoder.push(encodeFrame(Ev.end, 1)), AgentProtocolError);
});

test('exactly the maximum payload is accepted', () => {
  const decoder = new FrameDecoder(EVENT_TYPES);
  const frames = decoder.push(encodeFrame(Ev.data, 1, Buffer.alloc(MAX_PAYLOAD)));
  assert.equal(frames[0]?.payload.length, MAX_PAYLOAD);
});

test('an unknown frame type is refused, and a request type is unknown to the host', () => {
  assert.throws(() => new FrameDecoder(EVENT_TYPES).push(encodeFrame(0x7f, 1)), /unknown frame type 0x7f/);
  assert.throws(() => new FrameDecoder(EVENT_TYPES).push(encodeFrame(Req.exec, 1)), AgentProtocolError);
  assert.equal(new FrameDecoder(REQUEST_TYPES).push(encodeFrame(Req.exec, 1)).length, 1);
});

test('encodeFrame refuses an oversized payload and a channel that is not a u32', () => {
  assert.throws(() => encodeFrame(Req.stdin, 1, Buffer.alloc(MAX_PAYLOAD + 1)), RangeError);
  assert.throws(() => encodeFrame(Req.stdin, 2 ** 32), RangeError);
  assert.throws(() => encodeFrame(Req.stdin, -1), RangeError);
});
