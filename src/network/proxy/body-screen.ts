/**
 * Request bodies and brokered placeholders. A body sent to a host a brokered secret is not bound
 * to must not carry that secret's placeholder. The first BODY_SCREEN_BYTES are read before any
 * upstream connection is made, so a small body with the placeholder is refused (403) with nothing
 * sent. A longer body is streamed on, scanned as it goes with the last (placeholder length - 1)
 * bytes held back: a placeholder is always seen whole before any byte of it is forwarded, and the
 * upstream request is then cut off (the upstream gets a truncated body, never the placeholder).
 *
 * Why not buffer every body: uploads may be large and the proxy must stay bounded in memory per
 * client; why not refuse long bodies: a sandbox with a brokered secret must still be able to
 * upload to its other allowlisted hosts. Compressed or re-encoded bodies are not decoded: the
 * placeholder alone is not the secret, so this is a misuse signal, not the boundary.
 */
import type { ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type { DecisionFields, ProxyContext } from './context.ts';
import { denyResponse } from './deny.ts';
import type { BrokeredCredential } from './types.ts';

/** Bytes read before connecting upstream (and the most held per request). */
export const BODY_SCREEN_BYTES = 64 * 1024;

export type BodyScreen =
  | { kind: 'clean'; body: Readable | undefined }
  | { kind: 'refuse'; names: string[] };

/**
 * Screens `req`'s body for the placeholders of `credentials` not bound to any of `destinations`.
 * `onLateHit` is called (once) when a placeholder turns up after the first bytes, once the body
 * stream it returned has been cut off. Returns `body: undefined` when there is nothing to screen
 * (the request is then piped as it is).
 */
export async function screenBody(
  credentials: readonly BrokeredCredential[],
  req: Readable,
  destinations: readonly string[],
  onLateHit: (names: string[]) => void,
): Promise<BodyScreen> {
  const unbound = credentials.filter((c) => !c.hosts.some((h) => destinations.includes(h)));
  if (unbound.length === 0) return { kind: 'clean', body: undefined };
  const scanner = new PlaceholderScanner(unbound);
  const head = await readUpTo(req, BODY_SCREEN_BYTES);
  const first = scanner.push(head.bytes);
  if (first.hit.length > 0) return { kind: 'refuse', names: first.hit };
  if (head.ended) {
    const rest = scanner.end();
    const out = new PassThrough();
    out.end(Buffer.concat([first.out, rest]));
    return { kind: 'clean', body: out };
  }
  const out = new PassThrough();
  out.write(first.out);
  let cut = false;
  req.on('data', (chunk: Buffer) => {
    if (cut) return;
    const step = scanner.push(chunk);
    if (step.hit.length > 0) {
      cut = true;
      req.pause();
      // Why destroy, not end: a cleanly ended body would look complete to the upstream.
      out.destroy(new Error('brokered placeholder in the request body'));
      onLateHit(step.hit);
      return;
    }
    if (!out.write(step.out)) {
      req.pause();
      out.once('drain', () => req.resume());
    }
  });
  req.once('end', () => {
    if (!cut) out.end(scanner.end());
  });
  req.once('error', (err) => out.destroy(err));
  req.resume();
  return { kind: 'clean', body: out };
}

/**
 * What a placeholder found late does to its request: the refusal is its decision when none was
 * recorded yet, else a second one (the request was let through, then cut off), and the client
 * gets the 403 when no answer has begun.
 */
export function lateRefusal(context: ProxyContext, recorder: { decide(d: DecisionFields): void; readonly done: boolean }, res: ServerResponse, base: () => DecisionFields): (names: string[]) => void {
  return (names) => {
    const refusal: DecisionFields = { ...base(), brokered: names, allowed: false, reason: 'brokered_secret_unbound' };
    if (recorder.done) context.record(refusal);
    else recorder.decide(refusal);
    if (!res.headersSent && !res.destroyed) denyResponse(res, refusal.host, refusal.port, refusal.reason, true);
  };
}

/** Finds placeholders in a byte stream, holding back just enough to see each one whole. */
export class PlaceholderScanner {
  readonly #needles: { name: string; bytes: Buffer }[];
  readonly #holdback: number;
  #tail = Buffer.alloc(0);

  constructor(credentials: readonly BrokeredCredential[]) {
    this.#needles = credentials.map((c) => ({ name: c.name, bytes: Buffer.from(c.placeholder, 'latin1') }));
    this.#holdback = Math.max(0, ...this.#needles.map((n) => n.bytes.length - 1));
  }

  /** The bytes that may be forwarded now, or the names found (then nothing may be). */
  push(chunk: Buffer): { out: Buffer; hit: string[] } {
    const seen = Buffer.concat([this.#tail, chunk]);
    const hit = this.#needles.filter((n) => seen.includes(n.bytes)).map((n) => n.name);
    if (hit.length > 0) return { out: Buffer.alloc(0), hit };
    const keep = Math.min(this.#holdback, seen.length);
    this.#tail = Buffer.from(seen.subarray(seen.length - keep));
    return { out: seen.subarray(0, seen.length - keep), hit: [] };
  }

  /** What is still held back, at the end of the body (already scanned: no placeholder in it). */
  end(): Buffer {
    const rest = this.#tail;
    this.#tail = Buffer.alloc(0);
    return rest;
  }
}

/** Reads from a paused or flowing stream until `max` bytes or its end; leaves it paused. */
function readUpTo(stream: Readable, max: number): Promise<{ bytes: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (ended: boolean) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.pause();
      resolve({ bytes: Buffer.concat(chunks), ended });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= max) finish(false);
    };
    const onEnd = () => finish(true);
    const onError = (err: Error) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      reject(err);
    };
    if (stream.readableEnded) {
      resolve({ bytes: Buffer.alloc(0), ended: true });
      return;
    }
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.resume();
  });
}
