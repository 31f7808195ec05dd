/**
 * Output framing for exec: UTF-8 text when the bytes are valid UTF-8, base64 otherwise (a
 * multi-byte character split across two chunks is held back and joined, not base64'd), and the
 * NDJSON / SSE line formats. Also the bounded collector of the non-streaming mode.
 */
import { isUtf8 } from 'node:buffer';

/** Output data as it goes on the wire. */
export interface EncodedData {
  data: string;
  encoding: 'utf8' | 'base64';
}

/** Encodes bytes as UTF-8 text when valid, base64 otherwise. */
export function encodeBytes(bytes: Buffer): EncodedData {
  return isUtf8(bytes) ? { data: bytes.toString('utf8'), encoding: 'utf8' } : { data: bytes.toString('base64'), encoding: 'base64' };
}

/** Length of an incomplete UTF-8 sequence at the end of `buf` (0-3 bytes). */
export function incompleteUtf8Tail(buf: Buffer): number {
  const len = buf.length;
  for (let i = 1; i <= Math.min(3, len); i++) {
    const byte = buf[len - i] as number;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    if (byte < 0xc0 || byte >= 0xf8) return 0; // ASCII or a byte that never starts a sequence: nothing pending
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return needed > i ? i : 0;
  }
  return 0;
}

/** Turns a byte stream into wire chunks, joining characters split across chunk boundaries. */
export class ChunkEncoder {
  #carry: Buffer = Buffer.alloc(0);

  /** Encodes `chunk` (with any held-back bytes); undefined when nothing is complete yet. */
  push(chunk: Buffer): EncodedData | undefined {
    const buf = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk]);
    const tail = incompleteUtf8Tail(buf);
    this.#carry = tail === 0 ? Buffer.alloc(0) : Buffer.from(buf.subarray(buf.length - tail));
    const body = buf.subarray(0, buf.length - tail);
    return body.length === 0 ? undefined : encodeBytes(body);
  }

  /** Whatever is still held back (an incomplete sequence at the very end of the output). */
  flush(): EncodedData | undefined {
    const rest = this.#carry;
    this.#carry = Buffer.alloc(0);
    return rest.length === 0 ? undefined : encodeBytes(rest);
  }
}

/** Stream formats of exec output. */
export type StreamFormat = 'ndjson' | 'sse';

/** How exec answers: a stream format, or one JSON body with the collected output. */
export type ExecMode = StreamFormat | 'json';

/** The stream format `Accept` asks for (SSE or NDJSON); undefined when it asks for neither. */
function acceptedStreamFormat(accept: string | undefined): StreamFormat | undefined {
  const a = (accept ?? '').toLowerCase();
  if (a.includes('text/event-stream')) return 'sse';
  if (a.includes('application/x-ndjson')) return 'ndjson';
  return undefined;
}

/** Picks the mode: `?stream=false` or `Accept: application/json` → json; `text/event-stream` → sse; else ndjson. */
export function chooseExecMode(stream: string | undefined, accept: string | undefined): ExecMode {
  if (stream === 'false' || stream === '0') return 'json';
  const asked = acceptedStreamFormat(accept);
  if (asked !== undefined) return asked;
  if (stream === undefined && (accept ?? '').toLowerCase().includes('application/json')) return 'json';
  return 'ndjson';
}

/** A one-shot streams only when asked (`Accept: application/x-ndjson` or `text/event-stream`): the seed's answer is one JSON body. */
export function chooseOneShotMode(accept: string | undefined): ExecMode {
  return acceptedStreamFormat(accept) ?? 'json';
}

/** Content type of each stream format. */
export const STREAM_CONTENT_TYPE: Record<StreamFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  sse: 'text/event-stream; charset=utf-8',
};

/** One frame in the chosen format. JSON.stringify escapes newlines, so a frame is always one line. */
export function formatFrame(frame: { type: string }, format: StreamFormat): string {
  const json = JSON.stringify(frame);
  return format === 'ndjson' ? `${json}\n` : `event: ${frame.type}\ndata: ${json}\n\n`;
}

/** Collects output up to `limit` bytes; the rest is dropped and reported as truncated. */
export class BoundedCollector {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #truncated = false;
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  push(chunk: Buffer): void {
    const room = this.#limit - this.#size;
    if (chunk.length > room) this.#truncated = true;
    const kept = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
    if (kept.length === 0) return;
    this.#chunks.push(Buffer.from(kept));
    this.#size += kept.length;
  }

  get truncated(): boolean {
    return this.#truncated;
  }

  /** The collected bytes, encoded; a character cut by truncation is dropped, not base64'd. */
  result(): EncodedData {
    let bytes = Buffer.concat(this.#chunks, this.#size);
    if (this.#truncated) bytes = bytes.subarray(0, bytes.length - incompleteUtf8Tail(bytes));
    return encodeBytes(bytes);
  }
}
