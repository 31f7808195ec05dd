/**
 * One canonical spelling for every host the proxy compares: lowercase, punycode, IPv4 in dotted
 * decimal, IPv6 compressed and bracket-free, IPv4-mapped IPv6 as the IPv4 address, no trailing dot.
 * Every decision is taken on this form, so two spellings of one host can never be judged apart.
 */
import { isIP } from 'node:net';

const MAX_NAME_LENGTH = 253;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
// Why: these change what a URL parser takes as the host (userinfo, path, query, fragment, escapes).
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const FORBIDDEN_IN_HOST = /[@/\\?#%\s\u0000-\u001f\u007f]/;
const MAPPED_V4 = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/** The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:7f00:1`), or null. */
export function mappedIpv4(compressedV6: string): string | null {
  const match = MAPPED_V4.exec(compressedV6);
  if (!match) return null;
  const high = Number.parseInt(match[1] ?? '', 16);
  const low = Number.parseInt(match[2] ?? '', 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/** Canonical form of an IP literal (no brackets, no zone), or null when it is not one. */
export function canonicalIp(raw: string): string | null {
  const bare = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  const unzoned = bare.replace(/%[^%]*$/, ''); // Why: os.networkInterfaces may carry a zone id; the address is what counts.
  const family = isIP(unzoned);
  if (family === 0) return null;
  const host = new URL(family === 6 ? `http://[${unzoned}]/` : `http://${unzoned}/`).hostname;
  if (family === 4) return host;
  const compressed = host.slice(1, -1);
  return mappedIpv4(compressed) ?? compressed;
}

/**
 * Canonical host for a raw host (name, IPv4 in any WHATWG spelling, IPv6 with or without
 * brackets), or null when it is not a valid host. Unicode names become punycode.
 */
export function canonicalHost(raw: string): string | null {
  if (raw.length === 0 || raw.length > 1024 || FORBIDDEN_IN_HOST.test(raw)) return null;
  const bracketed = isIP(raw) === 6 ? `[${raw}]` : raw;
  if (bracketed.includes(':') && !(bracketed.startsWith('[') && bracketed.endsWith(']'))) return null;
  let hostname: string;
  try {
    // Why: the WHATWG parser is what clients use, so its reading of decimal/octal/hex/short IPv4 is the real target.
    const url = new URL(`http://${bracketed}/`);
    if (url.username !== '' || url.password !== '' || url.port !== '' || url.pathname !== '/') return null;
    hostname = url.hostname;
  } catch {
    return null;
  }
  if (hostname.startsWith('[')) return canonicalIp(hostname);
  if (isIP(hostname) === 4) return hostname;
  const name = hostname.endsWith('.') ? hostname.slice(0, -1) : hostname;
  return isValidDnsName(name) ? name : null;
}

/** True for a lowercase ASCII DNS name with non-empty labels whose last label is not numeric. */
export function isValidDnsName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) return false;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return false;
  // Why: a numeric last label is an IP spelling the URL parser would have rewritten; never treat it as a name.
  return !/^(?:0x[0-9a-f]*|[0-9]+)$/.test(labels[labels.length - 1] ?? '');
}

/** True when a canonical host is an IP address. */
export function isIpHost(host: string): boolean {
  return isIP(host) !== 0;
}

/** `host:port` with IPv6 in brackets, for Host headers, messages and logs. */
export function formatHostPort(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** Host as it appears in a URL or Host header (IPv6 bracketed). */
export function formatHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
