/** Bytes a sandbox sent and received, from the counters of its host-side link. */
import { readFileSync } from 'node:fs';

export interface Traffic {
  rxBytes: number;
  txBytes: number;
}

function counter(link: string, name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${link}/statistics/${name}`, 'utf8'));
  } catch {
    return 0;
  }
}

/** The sandbox's view: what the host link received is what the sandbox transmitted. */
export function readLinkTraffic(hostLink: string): Traffic {
  return { rxBytes: counter(hostLink, 'tx_bytes'), txBytes: counter(hostLink, 'rx_bytes') };
}
