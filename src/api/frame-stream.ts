/**
 * A streamed answer (NDJSON or SSE): output frames as the command writes, characters split across
 * chunks joined back, then one closing frame, or an error frame when it failed after streaming
 * began. Shared by exec in a persistent sandbox and the streamed one-shot.
 */
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { errorBody, mapError } from './errors.ts';
import { ChunkEncoder, formatFrame, STREAM_CONTENT_TYPE, type StreamFormat } from './exec-stream.ts';

/** Which output a chunk is. */
export type OutputName = 'stdout' | 'stderr';

export class FrameStream {
  readonly #out = new PassThrough();
  readonly #format: StreamFormat;
  readonly #encoders: Record<OutputName, ChunkEncoder> = { stdout: new ChunkEncoder(), stderr: new ChunkEncoder() };

  constructor(format: StreamFormat) {
    this.#format = format;
    // Writes after the client left are dropped; the stream's own errors must not crash the process.
    this.#out.on('error', () => undefined);
  }

  /** One frame, unless the client has gone. */
  write(frame: { type: string }): void {
    if (!this.#out.destroyed && !this.#out.writableEnded) this.#out.write(formatFrame(frame, this.#format));
  }

  /** A chunk of output, as much of it as forms whole characters. */
  output(name: OutputName, chunk: Buffer): void {
    const encoded = this.#encoders[name].push(chunk);
    if (encoded !== undefined) this.write({ type: name, ...encoded });
  }

  /** Ends the stream with `closing` (the exit or result frame), after what output was held back. */
  close(closing: { type: string }): void {
    for (const name of ['stdout', 'stderr'] as const) {
      const rest = this.#encoders[name].flush();
      if (rest !== undefined) this.write({ type: name, ...rest });
    }
    this.write(closing);
    this.#out.end();
  }

  /** Ends the stream with an error frame (a failure after the head went out cannot be a status code). */
  fail(reply: FastifyReply, err: unknown, requestId: string, what: string): void {
    const mapped = mapError(err);
    if (mapped.status >= 500) reply.log.error({ err }, `${what} failed while streaming`);
    this.write({ type: 'error', ...errorBody(mapped.code, mapped.message, requestId) });
    this.#out.end();
  }

  /**
   * Sends the stream as the answer. The head goes out at once, not with the first output: a client
   * of a silent command learns at once that it started, and its id.
   */
  send(reply: FastifyReply): FastifyReply {
    reply.code(200).type(STREAM_CONTENT_TYPE[this.#format]).header('x-content-type-options', 'nosniff');
    // Proxies must pass frames through as they come.
    reply.header('x-accel-buffering', 'no');
    reply.raw.once('pipe', () => reply.raw.flushHeaders());
    return reply.send(this.#out);
  }
}
