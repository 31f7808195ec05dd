/**
 * Parses one allowlist entry (`host`, `host:port`, `*.example.com[:port]`, `1.2.3.4[:port]`,
 * `[2001:db8::1][:port]`) into a rule. An entry without a port allows 80 and 443 only: the two
 * ports web clients use, and nothing an entry's author did not think about.
 */
import { getPublicSuffix } from 'tldts';
import { canonicalHost, isIpHost } from './host-name.ts';
import { HOST_SERVICE_NAME, INTERNAL_SERVICE_DOMAIN } from './service-domain.ts';

export const DEFAULT_ALLOWED_PORTS: readonly number[] = [80, 443];

/** The name space of internal services; reachable only through the services list, never the allowlist. */
export { INTERNAL_SERVICE_DOMAIN };

export interface AllowRule {
  /** The entry as written. */
  readonly entry: string;
  /** `host`: exact name; `wildcard`: strict subdomains of `host`; `ip`: exactly this address. */
  readonly kind: 'host' | 'wildcard' | 'ip';
  /** Canonical host (for `wildcard`, the suffix after `*.`). */
  readonly host: string;
  readonly ports: readonly number[];
}

/** A refused entry; `reason` is a sentence meant for the API's 400 answer. */
export type EntryResult = { ok: true; rule: AllowRule } | { ok: false; reason: string };

const PORT = /^[1-9][0-9]{0,4}$/;

/** Parses one entry; never throws. */
export function checkAllowEntry(entry: string): EntryResult {
  if (typeof entry !== 'string' || entry.length === 0) return refuse('entry is empty');
  if (entry.length > 300) return refuse('entry is longer than 300 characters');
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\s\u0000-\u001f\u007f]/.test(entry)) return refuse('entry contains whitespace or control characters');
  // Why: userinfo and paths make an entry mean something other than a host; refuse rather than guess.
  if (entry.includes('@')) return refuse('entry contains userinfo (@); give a host only');
  if (/[/\\?#%]/.test(entry)) return refuse('entry contains a path, query, fragment or escape; give a host only');
  const split = splitPort(entry);
  if (typeof split === 'string') return refuse(split);
  const ports = split.port === undefined ? DEFAULT_ALLOWED_PORTS : [split.port];
  const hostPart = split.host;
  if (hostPart === '*') return refuse('"*" would allow every host');
  if (hostPart.startsWith('*.')) return wildcardRule(entry, hostPart.slice(2), ports);
  if (hostPart.includes('*')) return refuse('"*" is only allowed as a whole leading label ("*.example.com")');
  const host = canonicalHost(hostPart);
  if (host === null) return refuse(`"${hostPart}" is not a valid host name or IP address`);
  // Why a port is required: an entry opens one service on the host's loopback, never a default pair of them.
  if (host === HOST_SERVICE_NAME) return split.port === undefined ? refuse(`${HOST_SERVICE_NAME} needs the port of the host service ("${HOST_SERVICE_NAME}:8080")`) : { ok: true, rule: { entry, kind: 'host', host, ports } };
  if (isInternalDomain(host)) return refuse(`${INTERNAL_SERVICE_DOMAIN} names are internal services, not allowlist entries (a service on the host's loopback is ${HOST_SERVICE_NAME}:PORT)`);
  return { ok: true, rule: { entry, kind: isIpHost(host) ? 'ip' : 'host', host, ports } };
}

function wildcardRule(entry: string, suffixPart: string, ports: readonly number[]): EntryResult {
  if (suffixPart.includes('*')) return refuse('"*" is only allowed as a whole leading label ("*.example.com")');
  // Why: a wildcard over numbers would be an IP range spelled as a name (and URL parsers rewrite it to one).
  if (/(^|\.)(0x[0-9a-f]*|[0-9]+)\.?$/i.test(suffixPart) || suffixPart.startsWith('[')) {
    return refuse('a wildcard over an IP address or IP-like suffix is not allowed');
  }
  const suffix = canonicalHost(suffixPart);
  if (suffix === null || isIpHost(suffix)) return refuse(`"${suffixPart}" is not a valid domain`);
  if (isInternalDomain(suffix)) return refuse(`${INTERNAL_SERVICE_DOMAIN} names are internal services, not allowlist entries`);
  // Why: `*.com`, `*.co.uk`, `*.github.io` hand the sandbox every registrant under that suffix.
  if (isPublicSuffix(suffix)) return refuse(`"*.${suffix}" is too broad: ${suffix} is a public suffix`);
  return { ok: true, rule: { entry, kind: 'wildcard', host: suffix, ports } };
}

/** True when `name` is a public suffix (ICANN or private section); unknown single labels count too. */
export function isPublicSuffix(name: string): boolean {
  return getPublicSuffix(name, { allowPrivateDomains: true }) === name;
}

function isInternalDomain(host: string): boolean {
  return host === INTERNAL_SERVICE_DOMAIN || host.endsWith(`.${INTERNAL_SERVICE_DOMAIN}`);
}

function splitPort(entry: string): { host: string; port?: number } | string {
  let host = entry;
  let portText: string | undefined;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close < 0) return 'IPv6 literal is missing "]"';
    host = entry.slice(0, close + 1);
    const rest = entry.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return 'unexpected text after the IPv6 literal';
      portText = rest.slice(1);
    }
  } else {
    const colons = entry.split(':').length - 1;
    if (colons > 1) return 'an IPv6 literal must be written in brackets ("[2001:db8::1]:443")';
    if (colons === 1) [host, portText] = entry.split(':') as [string, string];
  }
  if (portText === undefined) return { host };
  if (!PORT.test(portText) || Number(portText) > 65535) return `port "${portText}" is not a number from 1 to 65535`;
  return { host, port: Number(portText) };
}

function refuse(reason: string): EntryResult {
  return { ok: false, reason };
}
