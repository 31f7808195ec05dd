/**
 * Framing of the host <-> in-sandbox agent protocol (the agent side is agent/airlock-agent.c,
 * whose header documents every message). A frame is `u8 type | u32 channel | u32 length |
 * payload`, little-endian, payload at most 1 MiB. Pure: no I/O.
 */
import { AgentProtocolError } from './errors.ts';

/** Bytes of a frame header. */
export const HEADER_BYTES = 9;

/** Largest payload either side sends or accepts; a bigger one is a protocol error. */
export const MAX_PAYLOAD = 1 << 20;

/** Version the agent announces in READY; anything else is refused. */
export const PROTOCOL_VERSION = 1;

/** Request frame types (host -> agent). */
export const Req = Object.freeze({
  exec: 0x01,
  stdin: 0x02,
  stdinEof: 0x03,
  signal: 0x04,
  readFile: 0x05,
  writeFile: 0x06,
  writeData: 0x07,
  writeEnd: 0x08,
  list: 0x09,
  stat: 0x0a,
  mkdir: 0x0b,
  remove: 0x0c,
  ping: 0x0d,
} as const);

/** Event frame types (agent -> host). */
export const Ev = Object.freeze({
  ready: 0x80,
  started: 0x81,
  stdout: 0x82,
  stderr: 0x83,
  exit: 0x84,
  stdinAck: 0x85,
  data: 0x86,
  end: 0x87,
  error: 0x88,
  entry: 0x89,
  pong: 0x8a,
} as const);

/** Type byte of a request frame. */
export type RequestType = (typeof Req)[keyof typeof Req];
/** Type byte of an event frame. */
export type EventType = (typeof Ev)[keyof typeof Ev];

/** Every event type a host accepts. */
export const EVENT_TYPES: ReadonlySet<number> = new Set(Object.values(Ev));
/** Every request type an agent accepts. */
export const REQUEST_TYPES: ReadonlySet<number> = new Set(Object.values(Req));

/** One decoded frame. `payload` may share memory with the chunk it arrived in. */
export interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

/** Encodes one frame; refuses a payload over the cap or a channel that isn't a u32. */
export function encodeFrame(type: number, channel: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new RangeError(`frame payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  if (!Number.isInteger(channel) || channel < 0 || channel > 0xffffffff) throw new RangeError(`bad channel ${channel}`);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt32LE(channel, 1);
  frame.writeUInt32LE(payload.length, 5);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/**
 * Reassembles frames from arbitrarily split chunks. A header with an unknown type or an oversized
 * length is refused as soon as its 9 bytes are in, before any payload is buffered; after a
 * refusal the decoder stays failed.
 */
export class FrameDecoder {
  private readonly allowed: ReadonlySet<number>;
  private readonly maxPayload: number;
  private chunks: Buffer[] = [];
  private size = 0;
  private failure: AgentProtocolError | undefined;

  constructor(allowed: ReadonlySet<number>, maxPayload = MAX_PAYLOAD) {
    this.allowed = allowed;
    this.maxPayload = maxPayload;
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.size;
  }

  /** Adds a chunk; returns the frames it completed. Throws AgentProtocolError on a bad header. */
  push(chunk: Buffer): Frame[] {
    if (this.failure !== undefined) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.size >= HEADER_BYTES) {
      const head = this.peek(HEADER_BYTES);
      const type = head.readUInt8(0);
      const length = head.readUInt32LE(5);
      if (!this.allowed.has(type)) this.fail(`unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
      if (length > this.maxPayload) this.fail(`frame payload of ${length} bytes exceeds ${this.maxPayload}`);
      if (this.size < HEADER_BYTES + length) break;
      const frame = this.take(HEADER_BYTES + length);
      frames.push({ type, channel: head.readUInt32LE(1), payload: frame.subarray(HEADER_BYTES) });
    }
    return frames;
  }

  private fail(message: string): never {
    this.failure = new AgentProtocolError(message);
    this.chunks = [];
    this.size = 0;
    throw this.failure;
  }

  /** The first `n` buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    this.chunks = [Buffer.concat(this.chunks)];
    return (this.chunks[0] as Buffer).subarray(0, n);
  }

  /** Removes and returns the first `n` buffered bytes (copying only when they span chunks). */
  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.size -= n;
    return out;
  }
}
