/** The network slot pieces of one configuration's own slot space, one line each: namespaces, host links, nft tables, leases. */
import type { AirlockConfig } from '../../src/config/config.ts';
import { ownNetworkPieces } from '../security/lib/host.ts';

export function networkPieces(config: AirlockConfig): string[] {
  return ownNetworkPieces(config).map((p) => `${p.kind} ${p.name}`);
}
