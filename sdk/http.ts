/**
 * The transport under `AirlockClient`: builds URLs, sends with the configured `fetch`, applies
 * deadlines and cancellation, and turns every failure into a typed error (an error envelope into
 * its class, a refused connection into `NetworkError`, a passed deadline into `TimeoutError`).
 */
import { APPROVAL_HEADER, approvalRequiredFrom, checkApprovalId } from './approval-required.ts';
import { AirlockError, errorFromResponse, NetworkError, TimeoutError } from './errors.ts';
import { underlyingCause } from './network-cause.ts';
import { retryDelayMs, retryPolicy, sleep, type RetryOptions, type RetryPolicy } from './retry.ts';
import { signInPlace } from './sign-request.ts';
import type { SigningKey } from './signing.ts';

/** The local server `airlock serve` listens on by default. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8002';

/** A `fetch` implementation (the global one, or any compatible function). */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** How to reach the server. */
export interface ConnectionOptions {
  /** Server URL; default `http://127.0.0.1:8002`. */
  baseUrl?: string | undefined;
  /** `fetch` to use; default the global one. */
  fetch?: FetchFunction | undefined;
  /** Headers added to every request (for example an `authorization` header of a proxy in front). */
  headers?: Record<string, string> | undefined;
  /**
   * Deadline of ordinary requests, ms (default 60 000; 0 = none). Streams are not bound by it, and
   * `execute` gets the execution's own time limit on top.
   */
  requestTimeoutMs?: number | undefined;
  /**
   * Signs every request (RFC 9421, Ed25519) with this key: `importSigningKey(pem)`, or
   * `loadSigningKey(path)` from `sdk/node.ts`. Each request gets a fresh nonce; a body is sent with
   * its `Content-Digest` (a streamed body is read in full first: the digest precedes it).
   */
  signer?: SigningKey | undefined;
  /**
   * Retries of a request refused with 429 (the server at capacity, or a rate limit): up to
   * `retries` times (default 3), each after the answer's `Retry-After` (without one: `defaultDelayMs`,
   * doubling), never waiting longer than `maxDelayMs` (default 30 s; a longer `Retry-After` throws
   * the `RateLimitError` at once). The request's deadline covers the waits. `false`: no retries.
   */
  retry?: RetryOptions | false | undefined;
}

/** Per-call options every client method accepts. */
export interface CallOptions {
  /** Cancels the request; the call rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /**
   * An approved approval for this very request (sent as `Airlock-Approval`): the id of the
   * `ApprovalRequiredError` the same call threw before. The call must be identical (same resolved
   * parameters), or the server refuses it (`approval_digest_mismatch`).
   */
  approvalId?: string | undefined;
}

/** One HTTP request as the client describes it. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent raw (with `contentType`). */
  body?: RequestInit['body'];
  contentType?: string;
  accept?: string;
  /** Cancellation signals: any of them aborts the request. */
  signals?: ReadonlyArray<AbortSignal | undefined>;
  /** Deadline, ms; undefined or 0 = none. */
  timeoutMs?: number | undefined;
  /** Sent as `Airlock-Approval`: the approval this retried request runs on. */
  approvalId?: string | undefined;
}

/**
 * The lifetime of one request: its abort controller, deadline and cancellation signals. It knows
 * why an abort happened, so any later failure (also while reading a stream) maps to the right error.
 */
export class Call {
  /** Aborts the request (and its body stream) when a signal fires or the deadline passes. */
  readonly controller = new AbortController();
  readonly #signals: AbortSignal[];
  readonly #what: string;
  readonly #timeoutMs: number | undefined;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onAbort = () => this.controller.abort();
  #timedOut = false;

  constructor(what: string, signals: ReadonlyArray<AbortSignal | undefined> = [], timeoutMs?: number) {
    this.#what = what;
    this.#signals = signals.filter((s): s is AbortSignal => s !== undefined);
    this.#timeoutMs = timeoutMs;
    for (const s of this.#signals) {
      if (s.aborted) this.controller.abort();
      else s.addEventListener('abort', this.#onAbort, { once: true });
    }
    if (timeoutMs !== undefined && timeoutMs > 0 && !this.controller.signal.aborted) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true;
        this.controller.abort();
      }, timeoutMs);
    }
  }

  /** Maps a failure of this request to the error to throw. */
  fail(err: unknown): unknown {
    if (this.#timedOut) return new TimeoutError(`${this.#what}: no answer within ${this.#timeoutMs} ms`, { code: 'timeout', cause: err });
    const aborted = this.#signals.find((s) => s.aborted);
    if (aborted !== undefined) return aborted.reason ?? err;
    if (err instanceof AirlockError) return err;
    const message = (err as Error | undefined)?.message ?? String(err);
    const cause = underlyingCause(err);
    // Why: `fetch failed` alone hides whether the server is down, the name is wrong or the socket missing.
    const detail = cause === undefined || message.includes(cause) ? '' : ` (${cause})`;
    return new NetworkError(`${this.#what}: ${message}${detail}`, { code: 'network_error', cause: err });
  }

  /** Stops the deadline and detaches from the signals. Idempotent. */
  dispose(): void {
    clearTimeout(this.#timer);
    for (const s of this.#signals) s.removeEventListener('abort', this.#onAbort);
  }
}

/** Sends requests to one server. */
export class Transport {
  /** Server URL without a trailing slash. */
  readonly baseUrl: string;
  /** Deadline of ordinary requests, ms (0 = none). */
  readonly requestTimeoutMs: number;
  readonly #fetch: FetchFunction;
  readonly #headers: Record<string, string>;
  readonly #signer: SigningKey | undefined;
  readonly #retry: RetryPolicy;

  constructor(options: ConnectionOptions = {}) {
    const baseUrl = options.baseUrl ?? DEFAULT_BASE_URL;
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch {
      throw new AirlockError(`baseUrl: "${baseUrl}" is not a URL`, { code: 'invalid_argument' });
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new AirlockError(`baseUrl: "${baseUrl}" must be http or https`, { code: 'invalid_argument' });
    }
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    const globalFetch = globalThis.fetch as FetchFunction | undefined;
    const chosen = options.fetch ?? (globalFetch === undefined ? undefined : globalFetch.bind(globalThis));
    if (chosen === undefined) throw new AirlockError('no fetch: pass one in the options', { code: 'invalid_argument' });
    // Called as a plain function: browsers refuse `fetch` invoked as a method of another object.
    this.#fetch = chosen;
    this.#headers = { ...options.headers };
    this.#signer = options.signer;
    this.#retry = retryPolicy(options.retry);
  }

  /** The key id requests are signed with; undefined when they are not signed. */
  get keyId(): string | undefined {
    return this.#signer?.keyId;
  }

  /** The full URL of `path` with `query` (undefined values left out). */
  url(path: string, query: Record<string, string | undefined> = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, value);
    const qs = params.toString();
    return `${this.baseUrl}${path}${qs === '' ? '' : `?${qs}`}`;
  }

  /**
   * Sends `req` within `call` and returns the response when it is 2xx; otherwise throws the
   * typed error of its envelope (a 429 after the bounded retries), and `ApprovalRequiredError` for
   * a 202 (policy sent the request to a human: nothing ran). The caller reads the body and disposes
   * of the call.
   */
  async send(req: HttpRequest, call: Call): Promise<Response> {
    // Why only these bodies are retried: a stream is consumed by the first attempt.
    const replayable = req.body === undefined || typeof req.body === 'string' || req.body instanceof Uint8Array || req.body instanceof ArrayBuffer || req.body instanceof Blob;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#sendOnce(req, call);
      } catch (err) {
        const delay = replayable ? retryDelayMs(this.#retry, err, attempt) : undefined;
        if (delay === undefined) throw err;
        try {
          await sleep(delay, call.controller.signal);
        } catch (abort) {
          throw call.fail(abort);
        }
      }
    }
  }

  async #sendOnce(req: HttpRequest, call: Call): Promise<Response> {
    const headers: Record<string, string> = { ...this.#headers };
    // Set before signing, so the request that is signed is the one sent.
    if (req.approvalId !== undefined) headers[APPROVAL_HEADER] = checkApprovalId(req.approvalId);
    let body: RequestInit['body'];
    if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    } else if (req.body !== undefined) {
      headers['content-type'] = req.contentType ?? 'application/octet-stream';
      body = req.body;
    }
    headers['accept'] = req.accept ?? 'application/json';
    // Normalized (lowercase host, no default port) as the server rebuilds it from Host and the path.
    const url = new URL(this.url(req.path, req.query)).href;
    let response: Response;
    try {
      // Why signed here, per send: every attempt gets its own nonce and `created`, and @target-uri
      // is exactly the URL handed to fetch.
      if (this.#signer !== undefined) body = await signInPlace(this.#signer, { method: req.method, url, headers, body }, call.controller.signal);
      response = await this.#fetch(url, { method: req.method, headers, signal: call.controller.signal, ...(body === undefined ? {} : { body }) });
    } catch (err) {
      throw call.fail(err);
    }
    if (!response.ok || response.status === 202) {
      try {
        // Why 202 is never success: the request waits for an approver and nothing ran.
        throw response.ok ? await approvalRequiredFrom(response, `${req.method} ${req.path}`) : await errorFromResponse(response);
      } catch (err) {
        throw call.fail(err);
      }
    }
    return response;
  }

  /** Sends and reads the body with `read`, under one deadline; the call is disposed of afterwards. */
  async request<T>(req: HttpRequest, read: (response: Response) => Promise<T>): Promise<T> {
    const call = new Call(`${req.method} ${req.path}`, req.signals, req.timeoutMs ?? this.requestTimeoutMs);
    try {
      const response = await this.send(req, call);
      try {
        return await read(response);
      } catch (err) {
        throw call.fail(err);
      }
    } finally {
      call.dispose();
    }
  }

  /** Sends and parses a JSON answer. */
  json<T>(req: HttpRequest): Promise<T> {
    return this.request(req, async (response) => {
      const text = await response.text();
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        throw new AirlockError(`${req.method} ${req.path}: the answer is not JSON: ${text.slice(0, 100)}`, { code: 'invalid_response', cause: err });
      }
    });
  }
}
