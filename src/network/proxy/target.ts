/**
 * Normalizes where a request wants to go. Absolute-form URLs go through the WHATWG parser, the
 * same reading HTTP clients use, so decimal/octal/hex/short IPv4 and mapped IPv6 reach the
 * allowlist in their canonical form; CONNECT authorities and Host headers are validated strictly.
 */
import { canonicalHost } from './host-name.ts';

export interface HttpTarget {
  host: string;
  port: number;
  /** Path and query as they will be sent upstream (already normalized by the URL parser). */
  pathAndQuery: string;
  pathname: string;
  /** The request-target exactly as received, for checks the URL parser would erase (encoded dots). */
  rawPath: string;
}

export interface HostPort {
  host: string;
  port: number;
}

export type TargetRefusal = 'not_a_proxy_request' | 'bad_target' | 'userinfo_in_url' | 'unsupported_scheme';
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: TargetRefusal };

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
// Why: a strict grammar for authority-form; anything beyond host characters, brackets and the port colon is an attack or a bug.
const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+):([0-9]{1,5})$/i;
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::([0-9]{1,5}))?$/i;

/** Parses an absolute-form request-target (`http://host[:port]/path`). */
export function parseAbsoluteTarget(requestTarget: string): Parsed<HttpTarget> {
  const scheme = SCHEME.exec(requestTarget);
  if (!scheme) return { ok: false, reason: requestTarget.startsWith('/') || requestTarget === '*' ? 'not_a_proxy_request' : 'bad_target' };
  if (scheme[1]?.toLowerCase() !== 'http') return { ok: false, reason: 'unsupported_scheme' };
  const rest = requestTarget.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#\\]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  // Why: `http://allowed.com@evil.com/` goes to evil.com; refuse instead of letting anyone misread it.
  if (authority.includes('@')) return { ok: false, reason: 'userinfo_in_url' };
  let url: URL;
  try {
    url = new URL(requestTarget);
  } catch {
    return { ok: false, reason: 'bad_target' };
  }
  if (url.username !== '' || url.password !== '') return { ok: false, reason: 'userinfo_in_url' };
  const host = canonicalHost(url.hostname);
  const port = url.port === '' ? 80 : Number(url.port);
  if (host === null || !validPort(port)) return { ok: false, reason: 'bad_target' };
  const rawPath = authorityEnd < 0 ? '/' : rest.slice(authorityEnd);
  return { ok: true, value: { host, port, pathAndQuery: `${url.pathname}${url.search}`, pathname: url.pathname, rawPath } };
}

/** Parses a CONNECT authority (`host:port`, port required). */
export function parseConnectTarget(authority: string): Parsed<HostPort> {
  const match = AUTHORITY.exec(authority);
  if (!match) return { ok: false, reason: authority.includes('@') ? 'userinfo_in_url' : 'bad_target' };
  const host = canonicalHost(match[1] ?? '');
  const port = Number(match[2]);
  if (host === null || !validPort(port)) return { ok: false, reason: 'bad_target' };
  return { ok: true, value: { host, port } };
}

/** Parses a Host header value; null when it is not a valid `host[:port]`. */
export function parseHostHeader(value: string, defaultPort: number): HostPort | null {
  const match = HOST_HEADER.exec(value);
  if (!match) return null;
  const host = canonicalHost(match[1] ?? '');
  const port = match[2] === undefined ? defaultPort : Number(match[2]);
  return host === null || !validPort(port) ? null : { host, port };
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}
