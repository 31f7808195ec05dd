/**
 * Signed requests from the SDK, on WebCrypto only (Node 24+ and browsers): RFC 9421 HTTP Message
 * Signatures with Ed25519 and RFC 9530 `Content-Digest` (sha-256), in the form the airlock API verifies
 * (`src/signing/verify.ts`): `@method`, `@target-uri` and, with a body, `content-digest`, with the
 * parameters created, nonce, keyid (the key's RFC 7638 thumbprint) and alg="ed25519".
 * Only what a signer writes is serialized here; parsing and verification live on the server.
 */
import { base64ToBytes, bytesToBase64, utf8Bytes } from './bytes.ts';

/** WebCrypto's key handle, named without DOM typings or a Node import. */
export type WebCryptoKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** An imported Ed25519 private key and the key id the server knows it by. */
export interface SigningKey {
  readonly keyId: string;
  readonly privateKey: WebCryptoKey;
}

/** A request about to be sent. */
export interface RequestToSign {
  readonly method: string;
  /** The absolute URL the request goes to (what `@target-uri` covers). */
  readonly url: string | URL;
  /** Header fields sent anyway; those named in `cover` are signed too. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The exact body bytes to send (a string is sent as UTF-8). */
  readonly body?: Uint8Array | string | undefined;
}

/** Options of {@link signedHeaders}. */
export interface SignOptions {
  /** Extra header fields to cover (lowercase names). */
  readonly cover?: readonly string[];
  /** Unix seconds; default now. */
  readonly created?: number;
  /** Default: 16 random bytes, base64url. */
  readonly nonce?: string;
  readonly label?: string;
}

const ED25519 = { name: 'Ed25519' } as const;

function base64url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function pemBody(pem: string): Uint8Array {
  const match = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem);
  if (match === null) throw new Error('not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)');
  return base64ToBytes((match[1] ?? '').replace(/\s+/g, ''));
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/**
 * Imports a PKCS#8 PEM Ed25519 private key (as `airlock keys gen` writes it) and computes its key id.
 * The returned key cannot be exported again.
 */
export async function importSigningKey(pkcs8Pem: string): Promise<SigningKey> {
  const der = pemBody(pkcs8Pem) as Uint8Array<ArrayBuffer>;
  let extractable: WebCryptoKey;
  try {
    extractable = await crypto.subtle.importKey('pkcs8', der, ED25519, true, ['sign']);
  } catch (err) {
    throw new Error(`not an Ed25519 private key: ${(err as Error).message}`, { cause: err });
  }
  const { x } = await crypto.subtle.exportKey('jwk', extractable);
  if (typeof x !== 'string') throw new Error('the Ed25519 key has no public part');
  // RFC 7638: required members crv, kty, x in lexicographic order, no whitespace.
  const keyId = base64url(await sha256(utf8Bytes(`{"crv":"Ed25519","kty":"OKP","x":${JSON.stringify(x)}}`)));
  // Why re-import: only a non-extractable handle is kept, so the key cannot be read back out.
  const privateKey = await crypto.subtle.importKey('pkcs8', der, ED25519, false, ['sign']);
  return { keyId, privateKey };
}

/** RFC 8941 sf-string: printable ASCII, with `\` and `"` escaped. */
function sfString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new Error(`cannot sign ${JSON.stringify(value)}: only printable ASCII is allowed`);
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** RFC 8941 key (labels): lowercase letter or *, then lowercase letters, digits, _ - . * */
function sfKey(value: string): string {
  if (!/^[a-z*][a-z0-9_\-.*]*$/.test(value)) throw new Error(`invalid signature label ${JSON.stringify(value)}`);
  return value;
}

function headerValue(headers: Readonly<Record<string, string>>, name: string): string {
  const values = Object.entries(headers).filter(([key]) => key.toLowerCase() === name).map(([, v]) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (values.length === 0) throw new Error(`cannot cover header ${name}: the request does not send it`);
  const value = values.join(', ');
  if (/[\r\n]/.test(value)) throw new Error(`header ${name} contains a line break`);
  return value;
}

/**
 * The headers that sign `request`: `Signature-Input`, `Signature` and, with a body, `Content-Digest`.
 * Sign each request afresh: every call uses a new nonce, and the server refuses a nonce twice.
 */
export async function signedHeaders(key: SigningKey, request: RequestToSign, options: SignOptions = {}): Promise<Record<string, string>> {
  const body = typeof request.body === 'string' ? utf8Bytes(request.body) : (request.body ?? new Uint8Array(0));
  const added: Record<string, string> = {};
  const lines: [string, string][] = [
    ['@method', request.method],
    ['@target-uri', String(request.url)],
  ];
  if (body.length > 0) {
    added['content-digest'] = `sha-256=:${bytesToBase64(await sha256(body))}:`;
    lines.push(['content-digest', added['content-digest']]);
  }
  const others = Object.fromEntries(Object.entries(request.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-digest'));
  for (const name of options.cover ?? []) {
    if (name !== name.toLowerCase() || name.startsWith('@')) throw new Error(`cover takes lowercase header names, not ${JSON.stringify(name)}`);
    if (!lines.some(([covered]) => covered === name)) lines.push([name, headerValue(others, name)]);
  }
  const created = options.created ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(created) || created < 0) throw new Error(`created must be Unix seconds, got ${created}`);
  const nonce = options.nonce ?? base64url(crypto.getRandomValues(new Uint8Array(16)));
  const label = sfKey(options.label ?? 'sig1');
  const params = `(${lines.map(([name]) => sfString(name)).join(' ')});created=${created};nonce=${sfString(nonce)};keyid=${sfString(key.keyId)};alg="ed25519"`;
  // RFC 9421 §2.5: one `"name": value` line per component, then "@signature-params" without a newline.
  const base = `${lines.map(([name, value]) => `${sfString(name)}: ${value}\n`).join('')}"@signature-params": ${params}`;
  const signature = new Uint8Array(await crypto.subtle.sign(ED25519, key.privateKey, utf8Bytes(base) as Uint8Array<ArrayBuffer>));
  return { ...added, 'signature-input': `${label}=${params}`, signature: `${label}=:${bytesToBase64(signature)}:` };
}
