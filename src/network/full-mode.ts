/** Host settings a `full` network needs, checked or applied before its slot is built. */
import { readFileSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { ControlError } from '../host/control-error.ts';
import { FULL_MODE_REFUSED_V4 } from './nft-rules.ts';

/** The sandbox's /etc/resolv.conf: the configured public resolvers. */
export function resolvConfFor(resolvers: string[]): string {
  return resolvers.map((ip) => `nameserver ${ip}`).join('\n') + '\n';
}

/** Fail closed on resolvers `full` sandboxes could never reach (their rules drop these ranges). */
export function checkResolvers(resolvers: string[]): void {
  const refused = new BlockList();
  for (const cidr of FULL_MODE_REFUSED_V4) {
    const [net, bits] = cidr.split('/') as [string, string];
    refused.addSubnet(net, Number(bits), 'ipv4');
  }
  const bad = resolvers.filter((ip) => refused.check(ip, 'ipv4'));
  if (bad.length > 0) {
    throw new ControlError('network.fullModeResolvers', `${bad.join(', ')} would be unreachable from a full sandbox (private or special range): configure public resolvers`);
  }
}

/** `full` mode routes through the host: IPv4 forwarding must be on (as for any container NAT). */
export function enableForwarding(): void {
  const path = '/proc/sys/net/ipv4/ip_forward';
  try {
    if (readFileSync(path, 'utf8').trim() !== '1') writeFileSync(path, '1');
  } catch (err) {
    throw new ControlError('network.forwarding', `full mode needs IPv4 forwarding and it can't be enabled: ${(err as Error).message}`, { cause: err });
  }
}
