/** Which scheme a registry is spoken to over: HTTPS, or plain HTTP for a loopback registry only. */
import { isIP } from 'node:net';
import { ControlError } from '../../host/control-error.ts';
import { apiHost } from './reference.ts';

/** The host part of `host[:port]` (IPv6 without its brackets). */
export function hostOf(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const colon = hostPort.lastIndexOf(':');
  return colon >= 0 && isIP(hostPort) !== 6 ? hostPort.slice(0, colon) : hostPort;
}

/** Whether a host names this machine's loopback: localhost, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * The API base URL of a registry. Plain HTTP is used only when asked for and only for loopback.
 * Why: over plain HTTP elsewhere a network attacker can answer the manifest itself, and a
 * tag's manifest is the one thing not pinned by a digest the caller already knows.
 */
export function registryBaseUrl(registry: string, insecure: boolean): URL {
  const host = apiHost(registry);
  if (!insecure) return new URL(`https://${host}/`);
  if (!isLoopbackHost(hostOf(host))) {
    throw new ControlError('registry', `--insecure-registry is accepted only for a loopback registry (localhost, 127.0.0.0/8, ::1), not ${registry}: use HTTPS`);
  }
  return new URL(`http://${host}/`);
}

/**
 * Whether a URL the registry sends us to (a token realm, a redirect) may be fetched: HTTPS, or HTTP
 * on loopback when the registry itself was reached that way.
 */
export function checkFollowUrl(url: URL, insecure: boolean, what: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && insecure && isLoopbackHost(hostOf(url.host))) return;
  throw new ControlError('registry', `${what} ${url.origin} is not HTTPS; refused`);
}
