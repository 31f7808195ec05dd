import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AirlockError, SandboxNotRunningError } from './errors.ts';
import { readExecFrames, readNdjson, readOneShotFrames, type StreamFrame } from './ndjson.ts';
import { chunkStream } from './testing/fake-fetch.ts';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of iterable) out.push(v);
  return out;
}

/** Splits the UTF-8 bytes of `text` at every `size` bytes (so characters and lines get cut). */
function bytesIn(text: string, size: number): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

const EXIT = { type: 'exit', exit_code: 0, signal: null, termination_reason: 'completed', duration_ms: 3 };

describe('readNdjson', () => {
  it('joins lines and multi-byte characters split across chunks, at every split size', async () => {
    const values = [{ a: 'héllo €' }, { b: [1, 2, 3] }, { c: '𝄞 clef' }];
    const text = values.map((v) => JSON.stringify(v)).join('\n') + '\n';
    for (let size = 1; size <= text.length; size++) {
      assert.deepEqual(await collect(readNdjson(chunkStream(bytesIn(text, size)))), values, `split every ${size} bytes`);
    }
  });

  it('skips blank lines and reads a last line without a newline', async () => {
    assert.deepEqual(await collect(readNdjson(chunkStream(['\n{"a":1}\n\n', '  \n{"b"', ':2}']))), [{ a: 1 }, { b: 2 }]);
  });

  it('refuses a line that is not JSON', async () => {
    await assert.rejects(collect(readNdjson(chunkStream(['{"a":1}\n', 'not json\n']))), (err: unknown) => err instanceof AirlockError && err.code === 'invalid_response');
  });

  it('refuses a line longer than the cap instead of buffering without end', async () => {
    await assert.rejects(collect(readNdjson(chunkStream(['x'.repeat(50), 'y'.repeat(50)]), 64)), /longer than 64/);
  });

  it('cancels the stream when the reader stops early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new TextEncoder().encode('{"n":1}\n')),
      cancel: () => {
        cancelled = true;
      },
    });
    for await (const _ of readNdjson(stream)) break;
    assert.equal(cancelled, true);
  });
});

describe('readExecFrames', () => {
  it('yields output frames then the exit frame, and stops there', async () => {
    const lines = [{ type: 'stdout', data: 'hi\n', encoding: 'utf8' }, { type: 'stderr', data: '/w==', encoding: 'base64' }, EXIT, { type: 'stdout', data: 'late', encoding: 'utf8' }];
    const frames = await collect(readExecFrames(chunkStream(lines.map((l) => `${JSON.stringify(l)}\n`))));
    assert.deepEqual(frames, lines.slice(0, 3) as StreamFrame[]);
  });

  it('skips frames of unknown types', async () => {
    const frames = await collect(readExecFrames(chunkStream([`{"type":"heartbeat"}\n${JSON.stringify(EXIT)}\n`])));
    assert.deepEqual(frames.map((f) => f.type), ['exit']);
  });

  it('throws an error frame as its typed error', async () => {
    const error = { type: 'error', error: { code: 'sandbox_not_running', message: 'sandbox s-1 has ended', request_id: 'r-123456789' } };
    await assert.rejects(collect(readExecFrames(chunkStream([`{"type":"stdout","data":"a","encoding":"utf8"}\n`, `${JSON.stringify(error)}\n`]))), (err: unknown) => {
      assert.ok(err instanceof SandboxNotRunningError);
      assert.equal(err.code, 'sandbox_not_running');
      assert.equal(err.requestId, 'r-123456789');
      assert.equal(err.message, 'sandbox s-1 has ended');
      return true;
    });
  });

  it('treats a stream that ends without an exit frame as an error', async () => {
    const iterator = readExecFrames(chunkStream(['{"type":"stdout","data":"partial","encoding":"utf8"}\n{"type":"ex']));
    assert.deepEqual(await iterator.next(), { done: false, value: { type: 'stdout', data: 'partial', encoding: 'utf8' } });
    await assert.rejects(iterator.next(), (err: unknown) => err instanceof AirlockError && err.code === 'stream_ended');
    await assert.rejects(collect(readExecFrames(chunkStream(['{"type":"stdout","data":"x","encoding":"utf8"}\n']))), (err: unknown) => {
      assert.ok(err instanceof AirlockError);
      assert.equal(err.code, 'stream_ended');
      return true;
    });
    await assert.rejects(collect(readExecFrames(chunkStream([]))), /the exec stream ended without its exit frame/);
  });

  it('refuses malformed frames', async () => {
    for (const bad of ['[1]', '{"type":"stdout","data":1,"encoding":"utf8"}', '{"type":"stdout","data":"x","encoding":"hex"}', '{"type":"exit","exit_code":"0","signal":null,"termination_reason":"completed"}']) {
      await assert.rejects(collect(readExecFrames(chunkStream([`${bad}\n`]))), (err: unknown) => err instanceof AirlockError && err.code === 'invalid_response', bad);
    }
  });
});

describe('readOneShotFrames', () => {
  const RESULT = { type: 'result', execution_id: 'e-1', success: true, output: 'hi', exit_code: 0, termination_reason: 'completed' };

  it('yields output frames, then the result frame, and stops there', async () => {
    const lines = [{ type: 'stdout', data: 'hi', encoding: 'utf8' }, { type: 'stderr', data: '/w==', encoding: 'base64' }, RESULT, { type: 'stdout', data: 'after', encoding: 'utf8' }];
    const frames = await collect(readOneShotFrames(chunkStream(lines.map((l) => `${JSON.stringify(l)}\n`))));
    assert.deepEqual(frames, lines.slice(0, 3));
  });

  it('an exit frame does not end a one-shot stream, nor a result frame an exec stream', async () => {
    const exit = { type: 'exit', exit_code: 0, signal: null, termination_reason: 'completed', duration_ms: 1 };
    await assert.rejects(collect(readOneShotFrames(chunkStream([`${JSON.stringify(exit)}\n`]))), /the execution stream ended without its result frame/);
    await assert.rejects(collect(readExecFrames(chunkStream([`${JSON.stringify(RESULT)}\n`]))), /the exec stream ended without its exit frame/);
  });

  it('refuses a malformed result frame, and throws an error frame as its typed error', async () => {
    await assert.rejects(collect(readOneShotFrames(chunkStream(['{"type":"result","execution_id":"e-1","success":"yes","termination_reason":"completed"}\n']))), (err: unknown) => err instanceof AirlockError && err.code === 'invalid_response');
    const error = { type: 'error', error: { code: 'sandbox_not_running', message: 'gone', request_id: 'r-1' } };
    await assert.rejects(collect(readOneShotFrames(chunkStream([`${JSON.stringify(error)}\n`]))), (err: unknown) => err instanceof SandboxNotRunningError);
  });
});
