/**
 * Internal services: a sandbox reaches one by `<name>.airlock.internal` (port 80) or by the host:port
 * of its URL, and only with a listed method and a path under a listed prefix. Service addresses are
 * private by nature; these checks are the only thing standing in front of them.
 */
import { HOST_SERVICE_NAME, INTERNAL_SERVICE_DOMAIN } from './service-domain.ts';
import { canonicalHost } from './host-name.ts';
import type { InternalService } from './types.ts';

// Why: encoded dot, slash and backslash let a path look inside a prefix to us and outside it to the service.
const ENCODED_SEPARATOR = /%(?:2e|2f|5c)/i;

export type ServiceMatch = { kind: 'service'; service: InternalService } | { kind: 'unknown_service' } | { kind: 'none' };

/** Which service (if any) a canonical target host:port addresses. */
export function findService(services: readonly InternalService[], host: string, port: number): ServiceMatch {
  // The host's loopback is an allowlist matter (destination.ts), not a configured service.
  if (host === HOST_SERVICE_NAME) return { kind: 'none' };
  if (host === INTERNAL_SERVICE_DOMAIN || host.endsWith(`.${INTERNAL_SERVICE_DOMAIN}`)) {
    const name = host.slice(0, -(INTERNAL_SERVICE_DOMAIN.length + 1));
    const service = port === 80 ? services.find((s) => s.name.toLowerCase() === name) : undefined;
    // Why: the internal name space never falls through to DNS or the allowlist.
    return service ? { kind: 'service', service } : { kind: 'unknown_service' };
  }
  const service = services.find((s) => {
    const address = serviceAddress(s);
    return address !== null && address.host === host && address.port === port;
  });
  return service ? { kind: 'service', service } : { kind: 'none' };
}

/** Canonical host and port of a service URL (default port by scheme). */
export function serviceAddress(service: InternalService): { host: string; port: number } | null {
  const host = canonicalHost(service.url.hostname);
  if (host === null) return null;
  const port = service.url.port !== '' ? Number(service.url.port) : service.url.protocol === 'https:' ? 443 : 80;
  return { host, port };
}

/** Null when method and path are allowed, else the refusal reason. */
export function checkServiceRequest(service: InternalService, method: string, pathname: string, rawPath: string): string | null {
  if (!service.methods.some((m) => m.toUpperCase() === method.toUpperCase())) return 'service_method_not_allowed';
  const rawPathOnly = rawPath.split(/[?#]/, 1)[0] ?? '';
  if (ENCODED_SEPARATOR.test(rawPathOnly) || rawPathOnly.includes('\\')) return 'service_path_encoded';
  return service.pathPrefixes.some((prefix) => underPrefix(pathname, prefix)) ? null : 'service_path_not_allowed';
}

function underPrefix(pathname: string, prefix: string): boolean {
  if (prefix === '' || prefix === '/') return true;
  if (pathname === prefix) return true;
  return pathname.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/** The upstream URL for a request path: the service URL's path joined with the request's. */
export function serviceUpstreamUrl(service: InternalService, pathAndQuery: string): URL {
  const base = service.url.pathname.replace(/\/+$/, '');
  const url = new URL(service.url.href);
  const queryAt = pathAndQuery.indexOf('?');
  url.pathname = `${base}${queryAt < 0 ? pathAndQuery : pathAndQuery.slice(0, queryAt)}`;
  url.search = queryAt < 0 ? '' : pathAndQuery.slice(queryAt);
  return url;
}
