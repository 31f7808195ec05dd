/**
 * Signing requests with RFC 9421 HTTP Message Signatures, Ed25519 (`alg="ed25519"`, §3.3.6).
 * Node-only (node:crypto).
 */
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { serializeDictionary, type BareItem, type Parameters } from 'structured-headers';
import { contentDigest } from './content-digest.ts';
import { assertEd25519, keyId } from './keys.ts';
import { bodyBytes, type HeaderFields, type SignableRequest } from './message.ts';
import { signatureBase, toInnerList, type SignatureParameters } from './signature-base.ts';

/** The signature parameters of §2.3 this implementation writes, serialized in this order. */
export interface SignatureParamValues {
  readonly created?: number;
  readonly expires?: number;
  readonly nonce?: string;
  readonly keyid?: string;
  readonly alg?: string;
  readonly tag?: string;
}

/** The Signature-Input and Signature field values of one signature. */
export interface SignatureFields {
  readonly 'signature-input': string;
  readonly signature: string;
}

/** The label used when none is given. */
export const DEFAULT_SIGNATURE_LABEL = 'sig1';

function toParameters(values: SignatureParamValues): Parameters {
  const params = new Map<string, BareItem>();
  for (const name of ['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'] as const) {
    const value = values[name];
    if (value !== undefined) params.set(name, value);
  }
  return params;
}

/**
 * Signs `request` over exactly `components` with `parameters`, and returns the two field values.
 * Low level: nothing is added or required (the RFC examples use it as is).
 */
export function createSignature(options: {
  readonly request: SignableRequest;
  readonly components: readonly string[];
  readonly parameters: SignatureParamValues;
  readonly privateKey: KeyObject;
  readonly label?: string;
}): SignatureFields {
  assertEd25519(options.privateKey, 'private', 'the signing key');
  const label = options.label ?? DEFAULT_SIGNATURE_LABEL;
  const params: SignatureParameters = {
    components: options.components.map((name) => ({ name, parameters: new Map() })),
    parameters: toParameters(options.parameters),
  };
  const base = signatureBase(options.request, params);
  // §3.3.6: Ed25519 over the signature base bytes, no prehash.
  const signature = sign(null, Buffer.from(base, 'utf8'), options.privateKey);
  return {
    'signature-input': serializeDictionary(new Map([[label, toInnerList(params)]])),
    signature: serializeDictionary(new Map([[label, [signature, new Map()]]])),
  };
}

/** The components every signed request covers; `content-digest` is added when there is a body. */
export const REQUIRED_COMPONENTS = ['@method', '@target-uri'] as const;

/** Headers to add to a request: the signature and, when there is a body, its Content-Digest. */
export interface SignedRequestHeaders extends SignatureFields {
  readonly 'content-digest'?: string;
}

/** Options of {@link signRequest}. */
export interface SignRequestOptions {
  readonly request: SignableRequest;
  readonly privateKey: KeyObject;
  /** Default: the key's RFC 7638 thumbprint. */
  readonly keyid?: string;
  /** Unix seconds; default now. */
  readonly created?: number;
  /** Default: 16 random bytes, base64url. */
  readonly nonce?: string;
  readonly label?: string;
  /** Header fields or derived components to cover on top of the required ones. */
  readonly extraComponents?: readonly string[];
}

function withoutField(headers: HeaderFields, name: string): Record<string, HeaderFields[string]> {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => key.toLowerCase() !== name));
}

/**
 * Signs a request the way the airlock API requires: covers `@method`, `@target-uri` and, when there is a
 * body, `content-digest` (computed here, sha-256), with `created`, `nonce`, `keyid` and `alg="ed25519"`.
 */
export function signRequest(options: SignRequestOptions): SignedRequestHeaders {
  const body = bodyBytes(options.request.body);
  const digest = body.length > 0 ? contentDigest(body) : undefined;
  // The digest this call computed replaces any the caller set, so the signature covers the true one.
  const headers = digest === undefined ? options.request.headers : { ...withoutField(options.request.headers, 'content-digest'), 'content-digest': digest };
  const components = [...REQUIRED_COMPONENTS, ...(digest === undefined ? [] : ['content-digest'])];
  for (const extra of options.extraComponents ?? []) if (!components.includes(extra)) components.push(extra);
  const fields = createSignature({
    request: { ...options.request, headers },
    components,
    parameters: {
      created: options.created ?? Math.floor(Date.now() / 1000),
      nonce: options.nonce ?? randomBytes(16).toString('base64url'),
      keyid: options.keyid ?? keyId(options.privateKey),
      alg: 'ed25519',
    },
    privateKey: options.privateKey,
    ...(options.label !== undefined ? { label: options.label } : {}),
  });
  return digest === undefined ? fields : { 'content-digest': digest, ...fields };
}
