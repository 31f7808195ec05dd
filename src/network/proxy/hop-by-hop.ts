/**
 * Which headers cross the proxy. Hop-by-hop headers (and whatever Connection names) stay on their
 * hop; message framing (Content-Length, Transfer-Encoding) is always re-derived by the caller from
 * the parsed message, so a client can never make the proxy forward a body the upstream frames
 * differently (request smuggling). Headers that claim who the client is (Forwarded, X-Forwarded-*,
 * X-Real-IP and kin) never cross: the proxy adds none, and a sandbox must not forge them.
 */

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'keep-alive', 'te', 'trailer',
  'upgrade', 'host', 'content-length', 'transfer-encoding',
  'x-airlock-deny-reason', // Why: only the proxy may say why it refused; an upstream must not forge it.
]);

// Why: upstreams that trust these (rate limits, admin-from-localhost checks, audit) would believe a sandbox's claim.
const CLIENT_IDENTITY: ReadonlySet<string> = new Set([
  'forwarded', 'x-real-ip', 'x-client-ip', 'client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip',
  'x-cluster-client-ip', 'x-originating-ip', 'x-remote-ip', 'x-remote-addr', 'x-proxyuser-ip', 'via', 'x-forwarded',
]);

/** Whether a (lower-case) header name claims the client's identity or route: stripped in both directions. */
function isClientIdentityHeader(lower: string): boolean {
  return CLIENT_IDENTITY.has(lower) || lower.startsWith('x-forwarded-');
}

/** Filters Node's `rawHeaders` (flat name/value list) down to the end-to-end headers, as pairs. */
export function endToEndHeaders(rawHeaders: readonly string[]): [string, string][] {
  const listed = new Set<string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() !== 'connection') continue;
    for (const token of (rawHeaders[i + 1] ?? '').split(',')) listed.add(token.trim().toLowerCase());
  }
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.has(lower) || isClientIdentityHeader(lower)) continue;
    out.push([name, rawHeaders[i + 1] ?? '']);
  }
  return out;
}

/** Framing headers for a parsed message: chunked when it came chunked, else its validated length. */
export function framingHeaders(headers: { 'content-length'?: string | undefined; 'transfer-encoding'?: string | undefined }): [string, string][] {
  if (headers['transfer-encoding'] !== undefined) return [['Transfer-Encoding', 'chunked']];
  if (headers['content-length'] !== undefined) return [['Content-Length', headers['content-length']]];
  return [];
}

/** Flattens header pairs into the raw list form that http.request and writeHead accept. */
export function flatten(pairs: readonly (readonly [string, string])[]): string[] {
  return pairs.flatMap(([name, value]) => [name, value]);
}
