/**
 * A `fetch` over a unix socket, for Node: the controller's local socket (`/run/airlock/api.sock` by
 * default) is reached with node:http and `socketPath`. Request and response bodies stream; an
 * AbortSignal cancels the request, and the response body too once it has started. Node-only.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { ConnectionOptions, FetchFunction } from './http.ts';

/** Where `airlock serve` listens locally by default. */
export const DEFAULT_SOCKET_PATH = '/run/airlock/api.sock';

/**
 * The base URL of requests over a socket. Why `localhost`: the server's Host allowlist accepts the
 * loopback names, and `@target-uri` of a signed request is then `http://localhost/…`.
 */
export const SOCKET_BASE_URL = 'http://localhost';

/** Statuses whose responses have no body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The signal's reason when it is an Error (as fetch rejects), else an AbortError. */
function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}

function responseOf(res: IncomingMessage): Response {
  const headers = new Headers();
  for (const [name, values] of Object.entries(res.headersDistinct)) for (const value of values ?? []) headers.append(name, value);
  const status = res.statusCode ?? 0;
  if (NULL_BODY_STATUSES.has(status)) {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage ?? '', headers });
  }
  const body = Readable.toWeb(res) as ReadableStream<Uint8Array>;
  return new Response(body, { status, statusText: res.statusMessage ?? '', headers });
}

/** Writes `body` (any fetch body) to the request stream and ends it. */
async function sendBody(body: RequestInit['body'], stream: NodeJS.WritableStream & { end(chunk?: Uint8Array | string): unknown }): Promise<void> {
  if (body === undefined || body === null) {
    stream.end();
    return;
  }
  if (typeof body === 'string' || body instanceof Uint8Array) {
    stream.end(body);
    return;
  }
  // Streams, Blobs, buffers: read them as fetch would send them, chunk by chunk.
  const source = new Response(body).body;
  if (source === null) {
    stream.end();
    return;
  }
  for await (const chunk of source) {
    if (!stream.write(chunk)) await new Promise((resolve) => stream.once('drain', resolve));
  }
  stream.end();
}

/**
 * A `fetch` that sends every request to the unix socket at `socketPath`, whatever the URL's host
 * (the URL's host still goes out as `Host`, its path and query as the request target).
 */
export function unixSocketFetch(socketPath: string): FetchFunction {
  if (typeof socketPath !== 'string' || socketPath === '') throw new TypeError('socketPath must be a non-empty string');
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const signal = init.signal ?? undefined;
      if (signal?.aborted === true) {
        reject(abortReason(signal));
        return;
      }
      const url = new URL(input);
      const headers: Record<string, string> = { host: url.host };
      new Headers(init.headers).forEach((value, name) => (headers[name] = value));
      if (typeof init.body === 'string') headers['content-length'] = String(Buffer.byteLength(init.body));
      else if (init.body instanceof Uint8Array) headers['content-length'] = String(init.body.byteLength);
      const req = httpRequest({ socketPath, method: init.method ?? 'GET', path: `${url.pathname}${url.search}`, headers });
      let response: IncomingMessage | undefined;
      const onAbort = () => {
        const reason = abortReason(signal as AbortSignal);
        // Why destroy both: the server sees the connection close (which cancels an exec or a
        // one-shot), and a body being read fails with the reason instead of hanging.
        response?.destroy(reason);
        req.destroy(reason);
        reject(reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.once('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(new TypeError('fetch failed', { cause: err }));
      });
      req.once('response', (res) => {
        response = res;
        res.once('close', () => signal?.removeEventListener('abort', onAbort));
        resolve(responseOf(res));
      });
      sendBody(init.body, req).catch((err: unknown) => req.destroy(err as Error));
    });
}

/**
 * Connection options for the server on the unix socket at `socketPath` (default
 * `/run/airlock/api.sock`): spread them into `new AirlockClient({...})`, with a `signer` if wanted.
 */
export function unixSocketConnection(socketPath: string = DEFAULT_SOCKET_PATH): Pick<ConnectionOptions, 'baseUrl' | 'fetch'> {
  return { baseUrl: SOCKET_BASE_URL, fetch: unixSocketFetch(socketPath) };
}
