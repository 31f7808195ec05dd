/**
 * Client side of signed requests: load a key file once, then produce the headers for each request.
 * Node-only (node:crypto, node:fs); the browser-compatible SDK needs a WebCrypto twin.
 */
import type { KeyObject } from 'node:crypto';
import { loadPrivateKeyFile } from './key-files.ts';
import { keyId } from './keys.ts';
import type { HeaderFields } from './message.ts';
import { signRequest, type SignedRequestHeaders } from './sign.ts';

/** A request about to be sent. */
export interface OutgoingRequest {
  readonly method: string;
  /** The absolute URL the request goes to; it is what `@target-uri` covers. */
  readonly url: string | URL;
  /** Headers the caller sends anyway; any of them can be covered with `cover`. */
  readonly headers?: HeaderFields | undefined;
  /** The exact body bytes to send. */
  readonly body?: Uint8Array | string | undefined;
}

/** Signs outgoing requests with one Ed25519 key; the key id is its RFC 7638 thumbprint. */
export class RequestSigner {
  readonly #privateKey: KeyObject;
  readonly #now: () => number;
  /** The key id the server knows this key by. */
  readonly keyId: string;

  constructor(privateKey: KeyObject, options: { readonly now?: () => number } = {}) {
    this.keyId = keyId(privateKey);
    this.#privateKey = privateKey;
    this.#now = options.now ?? Date.now;
  }

  /** Loads the PKCS#8 PEM private key at `path` (as written by `airlock keys gen`). */
  static async fromKeyFile(path: string, options: { readonly now?: () => number } = {}): Promise<RequestSigner> {
    return new RequestSigner(await loadPrivateKeyFile(path), options);
  }

  /**
   * The headers to add to `request`: `Signature-Input`, `Signature` and, with a body, `Content-Digest`.
   * Each call uses a new nonce, so a request must be signed again to be sent again.
   */
  headers(request: OutgoingRequest, cover: readonly string[] = []): SignedRequestHeaders {
    return signRequest({
      request: { method: request.method, targetUri: String(request.url), headers: request.headers ?? {}, body: request.body },
      privateKey: this.#privateKey,
      keyid: this.keyId,
      created: Math.floor(this.#now() / 1000),
      extraComponents: cover,
    });
  }
}
