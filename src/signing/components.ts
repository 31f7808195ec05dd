/**
 * Component values (RFC 9421 §2.1 header fields, §2.2 derived components) for request messages.
 */
import { fieldValue, type SignableRequest } from './message.ts';

/** A component the signature base cannot be built with; the message says which and why. */
export class ComponentError extends Error {
  override readonly name = 'ComponentError';
  /** unsupported: not implemented here; absent: a covered field is missing; invalid: not allowed. */
  readonly kind: 'unsupported' | 'absent' | 'invalid';

  constructor(kind: 'unsupported' | 'absent' | 'invalid', message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}

function targetUrl(request: SignableRequest): URL {
  try {
    return new URL(request.targetUri);
  } catch (err) {
    throw new ComponentError('invalid', 'target URI is not an absolute URI', { cause: err });
  }
}

function derivedValue(name: string, request: SignableRequest): string {
  switch (name) {
    case '@method':
      // §2.2.1: the method as sent; method names are case-sensitive.
      return request.method;
    case '@target-uri':
      // §2.2.2: the full target URI as the request names it, not re-normalized.
      targetUrl(request);
      return request.targetUri;
    case '@authority':
      // §2.2.3: host lowercased, default port omitted — exactly WHATWG URL's `host`.
      return targetUrl(request).host;
    case '@scheme':
      return targetUrl(request).protocol.slice(0, -1);
    case '@request-target': {
      const url = targetUrl(request);
      return `${url.pathname}${url.search}`;
    }
    case '@path':
      // §2.2.6: an empty path is "/" (URL already makes it so).
      return targetUrl(request).pathname;
    case '@query':
      // §2.2.7: "?" followed by the query; "?" alone when there is none.
      return `?${targetUrl(request).search.slice(1)}`;
    default:
      // @status is for responses; @query-param and anything else are not produced here.
      throw new ComponentError('unsupported', `derived component ${name} is not supported`);
  }
}

/**
 * The value of one covered component of `request`. Component parameters (`sf`, `key`, `bs`, `req`,
 * `tr`, `name`) are not supported: a signer that uses them is refused, never half-understood.
 */
export function componentValue(name: string, parameters: ReadonlyMap<string, unknown>, request: SignableRequest): string {
  if (parameters.size > 0) {
    throw new ComponentError('unsupported', `component "${name}" has parameters (${[...parameters.keys()].join(', ')}), which are not supported`);
  }
  // §2.1: field names are lowercase in component identifiers.
  if (name !== name.toLowerCase() || name === '') throw new ComponentError('invalid', `component identifier "${name}" is not lowercase`);
  if (name.startsWith('@')) return derivedValue(name, request);
  const value = fieldValue(request.headers, name);
  if (value === undefined) throw new ComponentError('absent', `covered header field "${name}" is absent from the request`);
  // Why: a line break in a value would forge extra lines of the signature base.
  if (/[\r\n]/.test(value)) throw new ComponentError('invalid', `header field "${name}" contains a line break`);
  return value;
}
