/**
 * One line of `nft -j monitor` or `ip -o monitor label all-nsid link address route` as a host
 * event: which object it names (table, link device) and what it says, so the watch can route it to
 * the sandboxes it could concern. Pure parsing; lines it does not understand give undefined.
 */
import { describeEvent, type NftItem } from './nft-describe.ts';

/** A change to an nftables object (table, chain, rule, set, element...). */
export interface NftEvent {
  source: 'nft';
  family: string;
  table: string;
  /** What happened, in nft's own terms (`added rule inet t input #7: tcp dport 22 accept`). */
  text: string;
}

/** A link, address, route or namespace-id message from rtnetlink. */
export interface IpEvent {
  source: 'ip';
  kind: 'link' | 'address' | 'route' | 'nsid';
  /** `current`: the host's own namespace; a number: a namespace the host knows by that id. */
  nsid: 'current' | number;
  /** The device named (link name, address label device, route `dev`), when there is one. */
  dev: string | undefined;
  /** A link left this namespace for another one (`new-netnsid`): it may have moved into a sandbox. */
  movedOut: boolean;
  /**
   * The namespace id the event names besides its own: where a link went (`new-netnsid N`), or the
   * id an `nsid` message assigns or deletes. Undefined when it names none.
   */
  peer: number | undefined;
  text: string;
}

export type HostEvent = NftEvent | IpEvent;

/** Parses one `nft -j monitor` line. */
export function parseNftEvent(line: string): NftEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object') return undefined;
  const [op, item] = Object.entries(parsed as Record<string, unknown>)[0] ?? [];
  if (op === undefined || item === null || typeof item !== 'object') return undefined;
  const [kind, body] = Object.entries(item as NftItem)[0] ?? [];
  if (kind === undefined || body === undefined) return undefined;
  const table = kind === 'table' ? body.name : body.table;
  if (typeof body.family !== 'string' || typeof table !== 'string') return undefined;
  return { source: 'nft', family: body.family, table, text: describeEvent(op, item as NftItem) };
}

const IP_LINE = /^\[nsid (current|\d+)\]\[(LINK|ADDR|ROUTE|NSID)\](.*)$/;
const KINDS = { LINK: 'link', ADDR: 'address', ROUTE: 'route', NSID: 'nsid' } as const;

/** Parses one `ip -o monitor label all-nsid link address route nsid` line. */
export function parseIpEvent(line: string): IpEvent | undefined {
  const m = IP_LINE.exec(line.trim());
  if (m === null) return undefined;
  const [, ns, label, rest] = m as unknown as [string, string, keyof typeof KINDS, string];
  const kind = KINDS[label];
  const body = rest.replace(/^Deleted /, '');
  let dev: string | undefined;
  if (kind === 'link') dev = /^\d+: ([^:@\s]+)/.exec(body)?.[1];
  else if (kind === 'address') dev = /^\d+: (\S+)\s/.exec(body)?.[1];
  else if (kind === 'route') dev = / dev (\S+)/.exec(body)?.[1];
  const peer = kind === 'nsid' ? /^nsid (\d+)/.exec(body)?.[1] : / new-netnsid (\d+)/.exec(rest)?.[1];
  return {
    source: 'ip',
    kind,
    nsid: ns === 'current' ? 'current' : Number(ns),
    dev,
    movedOut: kind === 'link' && / new-netnsid \d+/.test(rest),
    peer: peer === undefined ? undefined : Number(peer),
    text: rest.replace(/\\\s+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 200),
  };
}
