/**
 * A minimal OCI distribution client on fetch: manifests and blobs of one repository, with
 * anonymous, basic and bearer-token auth. Everything fetched by digest is verified against it as it
 * streams; nothing unverified is ever handed on.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { ControlError } from '../../host/control-error.ts';
import { isDigest } from '../manifest.ts';
import { parseChallenge } from './challenge.ts';
import type { RegistryCredentials } from './credentials.ts';
import type { ImageReference } from './reference.ts';
import { checkFollowUrl, registryBaseUrl } from './transport.ts';

/** Media types of manifests and indexes the client asks for (OCI and Docker v2 schema 2). */
export const MANIFEST_MEDIA_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

/** Largest manifest, index or token response read. Why: a hostile registry could stream forever. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

/** A manifest (or index) as fetched: its exact bytes, their digest and the media type. */
export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

/** Options of a {@link RegistryClient}. */
export interface RegistryClientOptions {
  reference: ImageReference;
  credentials?: RegistryCredentials | undefined;
  /** Plain HTTP; accepted for loopback registries only. */
  insecure?: boolean | undefined;
  /** Per-request time limit for headers and small bodies (blobs: between chunks). Default 60 s. */
  timeoutMs?: number | undefined;
  /** Cancels every request in flight (an interrupted pull). */
  signal?: AbortSignal | undefined;
}

/** The registry refused or failed; `status` is the HTTP status when there was one. */
export class RegistryError extends ControlError {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super('registry', message);
    this.name = 'RegistryError';
    this.status = status;
  }
}

/** Reads a body up to `max` bytes; more is an error naming `what`. */
async function readBounded(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) throw new RegistryError(`${what} is ${declared} bytes, more than the ${max} allowed`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += (chunk as Uint8Array).byteLength;
    if (total > max) throw new RegistryError(`${what} is more than the ${max} bytes allowed`);
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}

/** A client for one repository of one registry. */
export class RegistryClient {
  readonly #ref: ImageReference;
  readonly #base: URL;
  readonly #insecure: boolean;
  readonly #credentials: RegistryCredentials | undefined;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal | undefined;
  /** The Authorization header that last worked (basic, or a bearer token for this repository). */
  #authorization: string | undefined;

  constructor(options: RegistryClientOptions) {
    this.#ref = options.reference;
    this.#insecure = options.insecure === true;
    this.#base = registryBaseUrl(options.reference.registry, this.#insecure);
    this.#credentials = options.credentials;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    this.#signal = options.signal;
  }

  /** Fetches a manifest by tag or digest; one fetched by digest must hash to it. */
  async manifest(tagOrDigest: string): Promise<FetchedManifest> {
    const res = await this.#get(`manifests/${encodeURIComponent(tagOrDigest)}`, MANIFEST_MEDIA_TYPES.join(', '));
    const bytes = await readBounded(res, MAX_MANIFEST_BYTES, `manifest ${tagOrDigest}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    // Why: a manifest asked for by digest that hashes to anything else is a substituted one.
    if (isDigest(tagOrDigest) && digest !== tagOrDigest) throw new RegistryError(`manifest ${tagOrDigest} hashes to ${digest}: refused`);
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    return { bytes, digest, mediaType };
  }

  /** Whether a manifest exists (for the optional signature tag): null when the registry says 404. */
  async manifestIfExists(tag: string): Promise<FetchedManifest | null> {
    try {
      return await this.manifest(tag);
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) return null;
      throw err;
    }
  }

  /** A small blob by digest (a config, a signature payload), verified, in memory. */
  async smallBlob(digest: string, size: number, max: number): Promise<Buffer> {
    if (size > max) throw new RegistryError(`blob ${digest} declares ${size} bytes, more than the ${max} allowed`);
    const res = await this.#get(`blobs/${digest}`, '*/*');
    const bytes = await readBounded(res, size, `blob ${digest}`);
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (bytes.length !== size || actual !== digest) throw new RegistryError(`blob ${digest} does not match its digest (got ${actual}, ${bytes.length} of ${size} bytes): refused`);
    return bytes;
  }

  /**
   * Streams a blob into `file`, hashing as it goes: more bytes than `size`, fewer, or another hash
   * aborts naming the blob (the partial file is the caller's to remove). `onBytes` gets each chunk's length.
   */
  async blobToFile(digest: string, size: number, file: string, onBytes?: (n: number) => void): Promise<void> {
    if (!isDigest(digest)) throw new RegistryError(`not a sha256 digest: ${digest}`);
    // Why an idle limit rather than a total one: a large layer may take long, a stalled registry must not take forever.
    const idle = new AbortController();
    const stalled = () => idle.abort(new RegistryError(`blob ${digest}: nothing received for ${this.#timeoutMs / 1000} s`));
    let timer = setTimeout(stalled, this.#timeoutMs);
    const hash = createHash('sha256');
    let total = 0;
    const res = await this.#get(`blobs/${digest}`, '*/*', idle.signal).catch((err: unknown) => {
      clearTimeout(timer);
      throw err;
    });
    const out = createWriteStream(file, { mode: 0o600, flags: 'wx' });
    try {
      for await (const chunk of res.body ?? []) {
        clearTimeout(timer);
        timer = setTimeout(stalled, this.#timeoutMs);
        const buf = chunk as Uint8Array;
        total += buf.byteLength;
        // Why stop at once: the manifest's declared size is the bound; a registry that sends more is not trusted to stop.
        if (total > size) throw new RegistryError(`blob ${digest} is larger than the ${size} bytes its manifest declares: refused`);
        hash.update(buf);
        if (!out.write(buf)) await once(out, 'drain');
        onBytes?.(buf.byteLength);
      }
    } catch (err) {
      throw idle.signal.aborted ? (idle.signal.reason as Error) : err;
    } finally {
      clearTimeout(timer);
      out.end();
      await once(out, 'close');
    }
    const actual = `sha256:${hash.digest('hex')}`;
    if (total !== size) throw new RegistryError(`blob ${digest} ended after ${total} of ${size} bytes: refused`);
    if (actual !== digest) throw new RegistryError(`blob ${digest} does not match its digest (got ${actual}): refused`);
  }

  /** `signal`, also aborted when the client's own signal is. */
  #cancellable(signal: AbortSignal): AbortSignal {
    return this.#signal === undefined ? signal : AbortSignal.any([signal, this.#signal]);
  }

  /** GET under /v2/REPOSITORY/, authenticating on a 401 challenge once, following redirects itself. */
  async #get(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
    const url = new URL(`v2/${this.#ref.repository}/${path}`, this.#base);
    let res = await this.#fetch(url, accept, signal);
    if (res.status === 401) {
      await res.body?.cancel();
      this.#authorization = await this.#authenticate(res.headers.get('www-authenticate'));
      res = await this.#fetch(url, accept, signal);
    }
    if (!res.ok) {
      const detail = (await readBounded(res, 4096, 'error body').catch(() => Buffer.alloc(0))).toString('utf8').slice(0, 300).replace(/\s+/g, ' ');
      const hint = res.status === 401 ? ' (credentials refused or missing: see AIRLOCK_REGISTRY_USERNAME/PASSWORD or the auth file)' : '';
      throw new RegistryError(`${this.#ref.registry}/${this.#ref.repository}: GET ${path}: HTTP ${res.status}${hint}${detail === '' ? '' : `: ${detail}`}`, res.status);
    }
    return res;
  }

  async #fetch(start: URL, accept: string, signal: AbortSignal | undefined): Promise<Response> {
    let url = start;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      // Why the header only to the registry's own origin: a redirect to a blob store must not carry the credentials.
      const sameOrigin = url.origin === this.#base.origin;
      const headers: Record<string, string> = { accept, 'user-agent': 'airlock' };
      if (sameOrigin && this.#authorization !== undefined) headers['authorization'] = this.#authorization;
      let res: Response;
      try {
        res = await fetch(url, { headers, redirect: 'manual', signal: this.#cancellable(signal ?? AbortSignal.timeout(this.#timeoutMs)) });
      } catch (err) {
        throw new RegistryError(`${url.origin}: ${(err as Error).message}${(err as { cause?: Error }).cause === undefined ? '' : ` (${(err as { cause: Error }).cause.message})`}`);
      }
      if (res.status < 300 || res.status >= 400 || res.status === 304) return res;
      const location = res.headers.get('location');
      await res.body?.cancel();
      if (location === null) throw new RegistryError(`${url.origin}: redirect without a Location`, res.status);
      url = new URL(location, url);
      checkFollowUrl(url, this.#insecure, 'redirect to');
    }
    throw new RegistryError(`${start.origin}: more than ${MAX_REDIRECTS} redirects`);
  }

  /** The Authorization header a challenge asks for: basic with the credentials, or a bearer token from its realm. */
  async #authenticate(header: string | null): Promise<string> {
    const challenge = parseChallenge(header);
    const registry = this.#ref.registry;
    if (challenge?.scheme === 'basic') {
      if (this.#credentials === undefined) throw new RegistryError(`${registry} asks for a user name and password and none is configured (AIRLOCK_REGISTRY_USERNAME/PASSWORD or the auth file)`, 401);
      return `Basic ${Buffer.from(`${this.#credentials.username}:${this.#credentials.password}`).toString('base64')}`;
    }
    if (challenge?.scheme !== 'bearer' || challenge.params['realm'] === undefined) throw new RegistryError(`${registry} answered 401 with no usable challenge (${header ?? 'none'})`, 401);
    let realm: URL;
    try {
      realm = new URL(challenge.params['realm']);
    } catch {
      throw new RegistryError(`${registry}: token realm "${challenge.params['realm']}" is not a URL`);
    }
    // Why: the realm is sent the credentials; over plain HTTP to a remote host they would be read on the wire.
    checkFollowUrl(realm, this.#insecure, 'token realm');
    if (challenge.params['service'] !== undefined) realm.searchParams.set('service', challenge.params['service']);
    realm.searchParams.set('scope', `repository:${this.#ref.repository}:pull`);
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'airlock' };
    if (this.#credentials !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${this.#credentials.username}:${this.#credentials.password}`).toString('base64')}`;
    let res: Response;
    try {
      res = await fetch(realm, { headers, redirect: 'error', signal: this.#cancellable(AbortSignal.timeout(this.#timeoutMs)) });
    } catch (err) {
      throw new RegistryError(`token endpoint ${realm.origin}: ${(err as Error).message}`);
    }
    const body = await readBounded(res, 1024 * 1024, 'token response');
    if (!res.ok) throw new RegistryError(`token endpoint ${realm.origin} answered HTTP ${res.status}${res.status === 401 ? ' (credentials refused)' : ''}`, res.status);
    let token: unknown;
    try {
      const doc = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
      token = doc.token ?? doc.access_token;
    } catch {
      throw new RegistryError(`token endpoint ${realm.origin} answered something that is not JSON`);
    }
    if (typeof token !== 'string' || token === '' || /[\r\n]/.test(token)) throw new RegistryError(`token endpoint ${realm.origin} gave no token`);
    return `Bearer ${token}`;
  }
}
