/**
 * NDJSON reading for exec streams: one JSON value per line, lines split across network chunks
 * joined back, and the exec frame protocol checked (output frames, then exactly one exit frame, or
 * an error frame). A stream that ends before its exit frame is an error, never a silent success.
 */
import { AirlockError, errorFromEnvelope } from './errors.ts';
import type { ExecExitFrame, ExecOutputFrame, ExecuteResultFrame } from './types.ts';

/** Longest line accepted (bytes of text); a longer one means the stream is not what we expect. */
export const MAX_LINE_LENGTH = 16 * 1024 * 1024;

function invalid(message: string): AirlockError {
  return new AirlockError(message, { code: 'invalid_response' });
}

function parseLine(line: string, last = false): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    // An unparsable line with no newline after it is a stream cut short, not a malformed one.
    if (last) throw new AirlockError('the stream ended in the middle of a line (connection lost?)', { code: 'stream_ended', cause: err });
    throw new AirlockError(`invalid NDJSON line from the server: ${line.slice(0, 100)}`, { code: 'invalid_response', cause: err });
  }
}

/**
 * Yields each JSON value of an NDJSON byte stream. Blank lines are skipped; a last line without a
 * trailing newline is still read. Stopping early cancels the stream (for exec: kills the command).
 */
export async function* readNdjson(body: ReadableStream<Uint8Array>, maxLineLength: number = MAX_LINE_LENGTH): AsyncGenerator<unknown, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      if (pending.length > maxLineLength) throw invalid(`NDJSON line longer than ${maxLineLength} characters`);
      for (const line of lines) if (line.trim() !== '') yield parseLine(line);
    }
    finished = true;
    pending += decoder.decode();
    if (pending.trim() !== '') yield parseLine(pending, true);
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/** A frame of an exec stream as the SDK hands it on: output, or the exit frame (always last). */
export type StreamFrame = ExecOutputFrame | ExecExitFrame;

function checkOutput(frame: Record<string, unknown>): ExecOutputFrame {
  const { type, data, encoding } = frame;
  if ((type !== 'stdout' && type !== 'stderr') || typeof data !== 'string' || (encoding !== 'utf8' && encoding !== 'base64')) {
    throw invalid(`malformed ${String(type)} frame`);
  }
  return { type, data, encoding };
}

function checkExit(frame: Record<string, unknown>): ExecExitFrame {
  const { exit_code: exitCode, signal, termination_reason: reason, duration_ms: durationMs } = frame;
  if ((exitCode !== null && typeof exitCode !== 'number') || (signal !== null && typeof signal !== 'string') || typeof reason !== 'string') {
    throw invalid('malformed exit frame');
  }
  return {
    type: 'exit',
    exit_code: exitCode,
    signal,
    termination_reason: reason as ExecExitFrame['termination_reason'],
    duration_ms: typeof durationMs === 'number' ? durationMs : 0,
  };
}

function errorOf(frame: Record<string, unknown>): AirlockError {
  const error = frame['error'] as Record<string, unknown> | undefined;
  const code = typeof error?.['code'] === 'string' ? error['code'] : 'exec_failed';
  const message = typeof error?.['message'] === 'string' ? error['message'] : 'the exec failed after streaming began';
  const requestId = typeof error?.['request_id'] === 'string' ? error['request_id'] : undefined;
  return errorFromEnvelope({ code, message, request_id: requestId }, undefined);
}

function checkResult(frame: Record<string, unknown>): ExecuteResultFrame {
  const { execution_id: id, success, termination_reason: reason } = frame;
  if (typeof id !== 'string' || typeof success !== 'boolean' || typeof reason !== 'string') throw invalid('malformed result frame');
  return frame as unknown as ExecuteResultFrame;
}

/**
 * Output frames, then the closing frame (checked by `close`), then stops. An error frame is thrown
 * as its typed error; a stream that ends without its closing frame throws `stream_ended`. Frames of
 * unknown types are skipped (room for the protocol to grow).
 */
async function* readFramesUntil<T>(body: ReadableStream<Uint8Array>, closing: { type: string; check: (frame: Record<string, unknown>) => T; what: string }): AsyncGenerator<ExecOutputFrame | T, void, undefined> {
  for await (const value of readNdjson(body)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${closing.what} frame is not a JSON object`);
    const frame = value as Record<string, unknown>;
    switch (frame['type']) {
      case 'stdout':
      case 'stderr':
        yield checkOutput(frame);
        break;
      case closing.type:
        yield closing.check(frame);
        return;
      case 'error':
        throw errorOf(frame);
      default:
        break;
    }
  }
  throw new AirlockError(`the ${closing.what} stream ended without its ${closing.type} frame (connection lost or server stopped)`, { code: 'stream_ended' });
}

/** Reads an exec stream: output frames, then the exit frame. */
export function readExecFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamFrame, void, undefined> {
  return readFramesUntil(body, { type: 'exit', check: checkExit, what: 'exec' });
}

/** A frame of a streamed one-shot as the SDK hands it on: output, or the result frame (always last). */
export type OneShotFrame = ExecOutputFrame | ExecuteResultFrame;

/** Reads a streamed one-shot: output frames, then the result frame. */
export function readOneShotFrames(body: ReadableStream<Uint8Array>): AsyncGenerator<OneShotFrame, void, undefined> {
  return readFramesUntil(body, { type: 'result', check: checkResult, what: 'execution' });
}
