/**
 * Signing a request the transport is about to send: its body read to bytes (the digest comes
 * before the body, so a stream is read in full first), the signature headers put in place.
 */
import { AirlockError } from './errors.ts';
import { signedHeaders, type SigningKey } from './signing.ts';

/** The headers a signature writes. */
const SIGNING_HEADERS = new Set(['signature', 'signature-input', 'content-digest']);

/** A request as the transport holds it just before `fetch`. */
export interface OutgoingRequest {
  readonly method: string;
  /** The exact URL handed to fetch (what `@target-uri` covers). */
  readonly url: string;
  /** Updated in place with the signature headers. */
  readonly headers: Record<string, string>;
  readonly body: RequestInit['body'];
}

/**
 * Adds the signature headers to `request.headers` and returns the body to send: exactly the bytes
 * that were digested. Rejects as soon as `signal` aborts (reading a stream obeys deadlines too); a
 * key that cannot sign is an `AirlockError` `signing_failed`.
 */
export async function signInPlace(key: SigningKey, request: OutgoingRequest, signal: AbortSignal): Promise<Uint8Array | string | undefined> {
  const { method, url, headers } = request;
  const bytes = await untilAborted(bodyBytes(request.body), signal);
  let signature: Record<string, string>;
  try {
    signature = await signedHeaders(key, { method, url, body: bytes });
  } catch (err) {
    // The signer's messages name what could not be signed; they never quote a signature.
    throw new AirlockError(`${method} ${url}: cannot sign the request: ${(err as Error).message}`, { code: 'signing_failed', cause: err });
  }
  // Why: a caller's own Signature or Content-Digest header, in any case, would be sent beside ours.
  for (const name of Object.keys(headers)) if (SIGNING_HEADERS.has(name.toLowerCase())) delete headers[name];
  Object.assign(headers, signature);
  return bytes;
}

/** The exact bytes of a request body; undefined for none. */
async function bodyBytes(body: RequestInit['body']): Promise<Uint8Array | string | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  // Blob, ReadableStream and the rest: read them as fetch would send them.
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** `work`, or a rejection as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  const aborted = () => new DOMException('This operation was aborted', 'AbortError');
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
