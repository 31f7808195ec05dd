/**
 * A scripted `fetch` for the SDK's unit tests: records each request and answers with a canned
 * response, optionally streamed in chunks that the test controls. Aborting the request's signal
 * errors the stream, as a real fetch does.
 */
import type { FetchFunction } from '../http.ts';

/** A request the fake received. */
export interface RecordedRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
  signal: AbortSignal | undefined;
}

/** What the fake answers with; a function gets the request and may build the answer itself. */
export type FakeAnswer =
  | { status?: number; headers?: Record<string, string>; json?: unknown; text?: string; chunks?: Array<string | Uint8Array>; hang?: boolean }
  | ((request: RecordedRequest) => Response | Promise<Response>);

/** The fake and what it saw. */
export interface FakeFetch {
  fetch: FetchFunction;
  requests: RecordedRequest[];
}

/** A stream of `chunks`; with `hang`, it stays open until the signal aborts. */
export function chunkStream(chunks: ReadonlyArray<string | Uint8Array>, signal?: AbortSignal, hang = false): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[i++];
      if (chunk !== undefined) {
        controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
        return;
      }
      if (!hang) {
        controller.close();
        return;
      }
      return new Promise<void>((resolve) => {
        const fail = () => {
          controller.error(signal?.reason ?? new Error('aborted'));
          resolve();
        };
        if (signal?.aborted === true) fail();
        else signal?.addEventListener('abort', fail, { once: true });
      });
    },
  });
}

/** A fetch answering the i-th request with `answers[i]` (the last answer repeats). */
export function fakeFetch(...answers: FakeAnswer[]): FakeFetch {
  const requests: RecordedRequest[] = [];
  const fetch: FetchFunction = async (url, init) => {
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => (headers[key] = value));
    const body = typeof init.body === 'string' || init.body instanceof Uint8Array ? init.body : undefined;
    const request: RecordedRequest = { url, method: init.method ?? 'GET', headers, body, signal: init.signal ?? undefined };
    requests.push(request);
    const answer = answers[Math.min(requests.length - 1, answers.length - 1)];
    if (answer === undefined) throw new Error('fakeFetch: no answer scripted');
    if (typeof answer === 'function') return answer(request);
    if (request.signal?.aborted === true) throw request.signal.reason;
    const status = answer.status ?? 200;
    const responseHeaders = { ...answer.headers };
    if (answer.json !== undefined) {
      responseHeaders['content-type'] ??= 'application/json; charset=utf-8';
      return new Response(JSON.stringify(answer.json), { status, headers: responseHeaders });
    }
    if (answer.chunks !== undefined || answer.hang === true) {
      return new Response(chunkStream(answer.chunks ?? [], request.signal, answer.hang === true), { status, headers: responseHeaders });
    }
    return new Response(answer.text ?? '', { status, headers: responseHeaders });
  };
  return { fetch, requests };
}

/** The error envelope the server sends. */
export function envelope(code: string, message = `refused: ${code}`, requestId = 'req-12345678'): { error: { code: string; message: string; request_id: string } } {
  return { error: { code, message, request_id: requestId } };
}
