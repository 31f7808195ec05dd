/**
 * The controller's own listeners (API and metrics, egress proxies, inspector) as the proxy sees
 * them: which destination address:port would reach one. A listener on a wildcard address (0.0.0.0,
 * ::) accepts on every address of the host, so every local address reaches it; one bound to a
 * specific address (or a prefix of them, such as every slot gateway) only through that address.
 * No allowlist entry or internal service can lift this refusal.
 */
import { BlockList, isIP } from 'node:net';
import { embeddedIpv4 } from './addresses.ts';
import { canonicalIp } from './host-name.ts';

/** One TCP listener of the controller process. */
export interface ListenerEndpoint {
  /** The IP literal it is bound to; `0.0.0.0` or `::` for every address of the host. */
  address: string;
  /** When set, every address of `address/prefix` (used for the slot gateways' egress proxies). */
  prefix?: number;
  port: number;
  /** What listens there, for messages ("API", "egress proxy", "inspector"). */
  what: string;
}

/** Whether an address is one of this host's own (loopback, unspecified, an interface address). */
export type LocalAddressCheck = (address: string) => boolean;

/** Finds the controller listener that a connection to `address`:`port` would reach, if any. */
export function findControllerListener(
  listeners: readonly ListenerEndpoint[],
  address: string,
  port: number,
  isLocal: LocalAddressCheck,
): ListenerEndpoint | undefined {
  const destination = comparable(address);
  // Why: something that is not an IP cannot be matched safely; treat it as reaching every listener on the port.
  if (destination === null) return listeners.find((l) => l.port === port);
  return listeners.find((listener) => {
    if (listener.port !== port) return false;
    const bound = comparable(listener.address);
    if (bound === null) return true;
    // Why: a wildcard listener answers on every local address (loopback, interfaces, slot gateways).
    if (bound === '0.0.0.0' || bound === '::') return isLocal(destination);
    if (listener.prefix === undefined) return bound === destination;
    return withinPrefix(destination, bound, listener.prefix);
  });
}

/** Canonical IP with any embedded IPv4 unwrapped, so `::ffff:127.0.0.1` and `127.0.0.1` compare equal. */
function comparable(address: string): string | null {
  const canonical = canonicalIp(address);
  if (canonical === null) return null;
  return isIP(canonical) === 6 ? (embeddedIpv4(canonical) ?? canonical) : canonical;
}

function withinPrefix(address: string, network: string, prefix: number): boolean {
  const family = isIP(network) === 6 ? 'ipv6' : 'ipv4';
  if ((isIP(address) === 6 ? 'ipv6' : 'ipv4') !== family) return false;
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return list.check(address, family);
}
