/**
 * The grammar and matching of `service.allowedHosts` (the API's DNS-rebinding guard, applied in
 * src/api/host-check.ts), kept free of dependencies so the configuration can validate entries:
 *
 * - an entry and a `Host` value are `NAME` or `NAME:PORT`, NAME a DNS name, an IPv4 address or a
 *   bracketed IPv6 address; anything else (no `Host` at all included) matches nothing;
 * - names compare case-insensitively (DNS names are), otherwise exactly: no trailing-dot, IPv6 or
 *   IPv4 spelling variant is folded into a listed one (`localhost.` and `[0::1]` are not `localhost`
 *   and `[::1]`);
 * - an entry without a port matches its name with no port or with any port (the port says nothing
 *   about which site a browser page belongs to; the name does); an entry with a port matches only it.
 */

/** The `Host` names accepted when the configuration lists none: the loopback names, any port. */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** `NAME[:PORT]` with NAME a DNS name or IPv4 address, or `[IPv6][:PORT]`. */
const HOST_PATTERN = /^(?<name>[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::(?<port>\d{1,5}))?$/;

/** One parsed allowlist entry or `Host` value. */
export interface HostName {
  name: string;
  port: number | undefined;
}

/** Parses `NAME[:PORT]` (case-folded); undefined when it is not one. */
export function parseHost(value: string): HostName | undefined {
  const match = HOST_PATTERN.exec(value.toLowerCase());
  const name = match?.groups?.['name'];
  if (name === undefined) return undefined;
  const portText = match?.groups?.['port'];
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && port > 65_535) return undefined;
  return { name, port };
}

/** Whether `host` (a request's `Host` header) is allowed by `allowed` (entries as above). */
export function hostAllowed(host: string | undefined, allowed: readonly HostName[]): boolean {
  if (host === undefined) return false;
  const parsed = parseHost(host);
  if (parsed === undefined) return false;
  return allowed.some((entry) => entry.name === parsed.name && (entry.port === undefined || entry.port === parsed.port));
}

/** Parses the configured entries; a malformed one is a configuration error, thrown at start. */
export function parseAllowedHosts(entries: readonly string[]): HostName[] {
  return entries.map((entry) => {
    const parsed = parseHost(entry);
    if (parsed === undefined) throw new Error(`allowedHosts: "${entry}" is not NAME or NAME:PORT (IPv6 in brackets: [::1])`);
    return parsed;
  });
}
