/**
 * The request as signing sees it, and how one field is read from it (RFC 9421 §2.1).
 */

/** Header fields as Node and most clients hold them: names in any case, repeated fields as arrays. */
export type HeaderFields = Readonly<Record<string, string | readonly string[] | number | undefined>>;

/** An HTTP request to sign or verify. */
export interface SignableRequest {
  /** The method exactly as sent, e.g. `POST`. */
  readonly method: string;
  /**
   * The full target URI (`https://host/path?query`). On the server it must be rebuilt from trusted
   * parts (the listener's scheme, an allowed Host, the request target), never from client claims.
   */
  readonly targetUri: string;
  readonly headers: HeaderFields;
  /** The exact body bytes (a string is taken as UTF-8); absent or empty means no body. */
  readonly body?: Uint8Array | string | undefined;
}

/** The body as bytes. */
export function bodyBytes(body: Uint8Array | string | undefined): Uint8Array {
  if (body === undefined) return new Uint8Array(0);
  return typeof body === 'string' ? new TextEncoder().encode(body) : body;
}

/** Whether the request carries a body (RFC 9530 digests are required only then). */
export function hasBody(request: SignableRequest): boolean {
  return bodyBytes(request.body).length > 0;
}

/** Strips optional whitespace (SP / HTAB) at both ends, as HTTP field parsing does. */
function trimOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * The canonical value of a header field per RFC 9421 §2.1: every field line's value trimmed, obsolete
 * line folding replaced by one space, the lines joined with ", ". `undefined` when the field is absent.
 */
export function fieldValue(headers: HeaderFields, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const lines: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number') lines.push(String(value));
    else lines.push(...value);
  }
  if (lines.length === 0) return undefined;
  return lines.map((line) => trimOws(line.replace(/\r\n[ \t]+/g, ' '))).join(', ');
}
