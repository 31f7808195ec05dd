/**
 * Verifying RFC 9421 signed requests (Ed25519) with RFC 9530 Content-Digest, a clock-skew window and
 * replay refusal. Node-only (node:crypto).
 */
import { verify, type KeyObject } from 'node:crypto';
import { parseDictionary, type BareItem, type Dictionary, type Item, type InnerList } from 'structured-headers';
import { ComponentError } from './components.ts';
import { contentDigestProblem } from './content-digest.ts';
import { bodyBytes, fieldValue, hasBody, type SignableRequest } from './message.ts';
import { refuse, type SignatureRefusal } from './refusal.ts';
import type { ReplayCache } from './replay-cache.ts';
import { REQUIRED_COMPONENTS } from './sign.ts';
import { signatureBase, type CoveredComponent, type SignatureParameters } from './signature-base.ts';

/** What a key lookup returns: at least the Ed25519 public key, plus whatever the caller attaches. */
export interface VerificationKey {
  readonly publicKey: KeyObject;
}

/** A verified request: which key signed it, and the signature's parameters. */
export interface VerifiedSignature<K extends VerificationKey> {
  readonly ok: true;
  readonly key: K;
  readonly keyid: string;
  readonly label: string;
  readonly created: number;
  readonly nonce: string;
  /** The covered component identifiers, in order. */
  readonly components: readonly string[];
}

/** A request whose signature held over its headers, waiting for its body (see RequestVerifier.verifyHeaders). */
export interface HeaderVerification<K extends VerificationKey> {
  readonly ok: true;
  readonly headersOnly: true;
  readonly key: K;
  readonly parsed: ParsedSignature;
  readonly params: RequiredParams;
  /** The Content-Digest field as received, if any. */
  readonly digestField: string | undefined;
  readonly createdMs: number;
  /** The clock reading the checks used. */
  readonly now: number;
}

/** The verifier's answer. */
export type VerifyResult<K extends VerificationKey> = VerifiedSignature<K> | SignatureRefusal;

/** Options of {@link RequestVerifier}. */
export interface RequestVerifierOptions<K extends VerificationKey> {
  /** Finds the key for a keyid; `undefined` for an unknown or revoked key (revocation is its job). */
  readonly lookupKey: (keyid: string) => K | undefined | Promise<K | undefined>;
  /** Remembers nonces for the window; one instance per verifier. */
  readonly replayCache: ReplayCache;
  /** Largest accepted distance between `created` and the server's clock, seconds (default 60). */
  readonly maxSkewSeconds?: number;
  /** The signature label to verify; default: the request must carry exactly one signature. */
  readonly label?: string;
  /** Clock in milliseconds (default Date.now); for tests. */
  readonly now?: () => number;
}

/** Default clock skew, seconds. */
export const DEFAULT_MAX_SKEW_SECONDS = 60;

const REQUIRED_PARAMETERS = ['created', 'nonce', 'keyid', 'alg'] as const;

/** Parsed Signature-Input member with its signature bytes. */
interface ParsedSignature {
  readonly label: string;
  readonly params: SignatureParameters;
  readonly signature: Uint8Array;
}

function parseFields(request: SignableRequest, wantedLabel: string | undefined): ParsedSignature | SignatureRefusal {
  const inputField = fieldValue(request.headers, 'signature-input');
  const signatureField = fieldValue(request.headers, 'signature');
  if (inputField === undefined && signatureField === undefined) return refuse('signature_missing', 'request is not signed: no Signature-Input or Signature header');
  if (inputField === undefined) return refuse('signature_missing', 'Signature header without Signature-Input');
  if (signatureField === undefined) return refuse('signature_missing', 'Signature-Input header without Signature');
  let inputs: Dictionary;
  let signatures: Dictionary;
  try {
    inputs = parseDictionary(inputField);
  } catch {
    return refuse('signature_malformed', 'Signature-Input is not a structured dictionary');
  }
  try {
    signatures = parseDictionary(signatureField);
  } catch {
    return refuse('signature_malformed', 'Signature is not a structured dictionary');
  }
  let label = wantedLabel;
  if (label === undefined) {
    if (inputs.size !== 1) return refuse('signature_malformed', `expected exactly one signature, found ${inputs.size}`);
    label = [...inputs.keys()][0] as string;
  }
  const input = inputs.get(label);
  const signature = signatures.get(label);
  if (input === undefined) return refuse('signature_missing', `no Signature-Input labelled ${label}`);
  if (signature === undefined) return refuse('signature_missing', `no Signature labelled ${label}`);
  if (!isInnerList(input)) return refuse('signature_malformed', `Signature-Input ${label} is not an inner list`);
  if (isInnerList(signature) || !(signature[0] instanceof ArrayBuffer)) return refuse('signature_malformed', `Signature ${label} is not a byte sequence`);
  const components: CoveredComponent[] = [];
  for (const [name, parameters] of input[0]) {
    // §2.1/§2.2: component identifiers are sf-strings; a token or number is not one.
    if (typeof name !== 'string') return refuse('signature_malformed', `Signature-Input ${label} lists a component that is not a string`);
    components.push({ name, parameters });
  }
  return { label, params: { components, parameters: input[1] }, signature: new Uint8Array(signature[0]) };
}

function isInnerList(member: Item | InnerList): member is InnerList {
  return Array.isArray(member[0]);
}

function isInteger(value: BareItem | undefined): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

interface RequiredParams {
  readonly created: number;
  readonly expires: number | undefined;
  readonly nonce: string;
  readonly keyid: string;
}

/** The refusal for a signature that leaves out what the API requires, or null. */
function missingCoverage(declaresBody: boolean, parsed: ParsedSignature): SignatureRefusal | null {
  const covered = new Set(parsed.params.components.filter((c) => c.parameters.size === 0).map((c) => c.name));
  // Why content-digest: without it the body is not bound to the signature and could be swapped.
  const required = [...REQUIRED_COMPONENTS, ...(declaresBody ? ['content-digest'] : [])];
  const missing = [
    ...required.filter((name) => !covered.has(name)),
    ...REQUIRED_PARAMETERS.filter((name) => !parsed.params.parameters.has(name)).map((name) => `;${name}`),
  ];
  if (missing.length === 0) return null;
  return refuse('components_missing', `signature ${parsed.label} does not cover ${missing.join(', ')}`);
}

function typedParameters(parsed: ParsedSignature): RequiredParams | SignatureRefusal {
  const p = parsed.params.parameters;
  const created = p.get('created');
  const expires = p.get('expires');
  const nonce = p.get('nonce');
  const keyid = p.get('keyid');
  const alg = p.get('alg');
  if (!isInteger(created)) return refuse('signature_malformed', 'created must be an integer (Unix seconds)');
  if (expires !== undefined && !isInteger(expires)) return refuse('signature_malformed', 'expires must be an integer (Unix seconds)');
  if (typeof keyid !== 'string' || keyid === '') return refuse('signature_malformed', 'keyid must be a non-empty string');
  // Why a minimum length: a short nonce is guessable and collides, weakening replay refusal.
  if (typeof nonce !== 'string' || nonce.length < 16 || nonce.length > 256) return refuse('signature_malformed', 'nonce must be a string of 16 to 256 characters');
  // Why: the algorithm comes from the registered key type, but a signer naming another one is confused or probing.
  if (alg !== 'ed25519') return refuse('signature_malformed', 'alg must be "ed25519"');
  return { created, expires, nonce, keyid };
}

/**
 * Verifies signed requests. Checks, in order: the headers parse; the signature covers what is required;
 * its parameters are well-typed; the key is known; `created` is within the skew; the signature verifies;
 * the body matches its Content-Digest; the nonce is new. A nonce is remembered only once the signature
 * verified, so forged requests cannot fill the cache. Never logs.
 */
export class RequestVerifier<K extends VerificationKey> {
  readonly #options: RequestVerifierOptions<K>;
  readonly #skewMs: number;

  constructor(options: RequestVerifierOptions<K>) {
    const skew = options.maxSkewSeconds ?? DEFAULT_MAX_SKEW_SECONDS;
    if (!Number.isFinite(skew) || skew < 0) throw new RangeError(`maxSkewSeconds must be a non-negative number, got ${skew}`);
    this.#options = options;
    this.#skewMs = skew * 1000;
  }

  /** Verifies `request`; the result names exactly what is wrong when it is refused. */
  async verify(request: SignableRequest): Promise<VerifyResult<K>> {
    const head = await this.verifyHeaders(request, hasBody(request));
    return head.ok ? this.completeWithBody(head, request.body) : head;
  }

  /**
   * The first half of {@link verify}, before the body has arrived: everything but the body's digest
   * and the nonce. `declaresBody` is what the request's framing says (a Content-Length above zero,
   * or chunked): then the signature must cover `content-digest`. Remembers nothing.
   */
  async verifyHeaders(request: Omit<SignableRequest, 'body'>, declaresBody: boolean): Promise<HeaderVerification<K> | SignatureRefusal> {
    const parsed = parseFields(request, this.#options.label);
    if ('ok' in parsed) return parsed;
    const uncovered = missingCoverage(declaresBody, parsed);
    if (uncovered !== null) return uncovered;
    const params = typedParameters(parsed);
    if ('ok' in params) return params;

    const key = await this.#options.lookupKey(params.keyid);
    if (key === undefined) return refuse('key_unknown', `no active key with keyid ${params.keyid}`);
    if (key.publicKey.type !== 'public' || key.publicKey.asymmetricKeyType !== 'ed25519') return refuse('key_unknown', `key ${params.keyid} is not an Ed25519 public key`);

    const now = (this.#options.now ?? Date.now)();
    const createdMs = params.created * 1000;
    if (Math.abs(now - createdMs) > this.#skewMs) {
      return refuse('signature_stale', `created is ${Math.round((now - createdMs) / 1000)} s from the server clock; at most ${this.#skewMs / 1000} s allowed`);
    }
    if (params.expires !== undefined && params.expires * 1000 <= now) return refuse('signature_stale', 'the signature has expired');

    let base: string;
    try {
      base = signatureBase(request, parsed.params);
    } catch (err) {
      if (!(err instanceof ComponentError)) throw err;
      return refuse(err.kind === 'absent' ? 'signature_invalid' : 'signature_malformed', err.message);
    }
    // §3.3.6: Ed25519 over the base; a wrong-length signature simply fails.
    if (!verify(null, Buffer.from(base, 'utf8'), key.publicKey, parsed.signature)) {
      return refuse('signature_invalid', `signature ${parsed.label} does not verify over the request as received`);
    }
    return { ok: true, headersOnly: true, key, parsed, params, digestField: fieldValue(request.headers, 'content-digest'), createdMs, now };
  }

  /**
   * The second half: the body against its Content-Digest, then the nonce. A nonce is remembered only
   * here, once everything else held, so forged requests can't burn nonces.
   */
  async completeWithBody(head: HeaderVerification<K>, body: SignableRequest['body']): Promise<VerifyResult<K>> {
    const { key, parsed, params } = head;
    const bytes = bodyBytes(body);
    // Why: a body the signature does not bind (no digest covered) could be anything.
    if (bytes.length > 0 && (head.digestField === undefined || !parsed.params.components.some((c) => c.name === 'content-digest' && c.parameters.size === 0))) {
      return refuse('components_missing', `signature ${parsed.label} does not cover content-digest, but the request has a body`);
    }
    if (head.digestField !== undefined) {
      const problem = contentDigestProblem(head.digestField, bytes);
      if (problem !== null) return refuse('digest_mismatch', problem);
    }

    // Remembered until the last instant the same signature would pass the skew check.
    const expiresAt = head.createdMs + this.#skewMs + 1;
    const check = await this.#options.replayCache.checkAndRemember(JSON.stringify([params.keyid, params.nonce]), expiresAt, head.now);
    if (check === 'replayed') return refuse('nonce_replayed', 'this nonce was already used; sign every request afresh');
    if (check === 'full') return refuse('replay_cache_full', 'too many recent signed requests to track; retry shortly');

    return {
      ok: true,
      key,
      keyid: params.keyid,
      label: parsed.label,
      created: params.created,
      nonce: params.nonce,
      components: parsed.params.components.map((c) => c.name),
    };
  }
}
