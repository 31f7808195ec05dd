/**
 * What "the network state of a sandbox" is, read without entering its namespace: the sandbox side
 * from /proc/<pid>/net (links, routes, addresses of the namespace that pid lives in), the host side
 * from its link in /sys/class/net, the host routing table and the slot's nft table. A snapshot is a
 * map of facet → canonical text; drift is any facet whose text changed.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { diffItems, type NftItem } from './drift/nft-describe.ts';
import type { NetworkSlot } from './slots.ts';

export type NetworkSnapshot = Record<string, string>;

/** Per-check shared reads (one `nft list ruleset` and one host route read for all sandboxes). */
export interface CheckContext {
  ruleset(): Promise<NftItem[]>;
  hostRoutes(): Promise<string[]>;
}

/**
 * A /proc or /sys file, read synchronously: the kernel generates it in memory, so a read costs
 * ~10 µs (a small namespace's five files ~50 µs), while an asynchronous one costs ~15× that in
 * thread-pool round trips (open, fstat, reads, close) — measured, the drift watch's whole idle cost
 * with hundreds of sandboxes. Callers bound how many they read between yields (drift-watch.ts).
 */
function readKernelFileOrMissing(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function linkOrMissing(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Link names only: /proc/net/dev also carries counters, which change all the time. */
function linkNames(dev: string): string {
  return dev
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name.length > 0)
    .sort()
    .join(',');
}

/**
 * The sandbox side, seen through one of its processes; undefined when that process is gone (the
 * sandbox is ending: not drift). `linksOnly` reads nothing but the link list.
 */
export async function readSandboxSide(pid: number, linksOnly = false): Promise<NetworkSnapshot | undefined> {
  const base = `/proc/${pid}/net`;
  const dev = readKernelFileOrMissing(`${base}/dev`);
  if (dev === undefined) return undefined;
  const links: NetworkSnapshot = { 'sandbox links': linkNames(dev) };
  if (linksOnly) return links;
  const [route, fib, route6, addr6] = ['route', 'fib_trie', 'ipv6_route', 'if_inet6'].map((f) => readKernelFileOrMissing(`${base}/${f}`));
  // These files exist in every namespace: one that can't be read means the process exited between
  // the reads (a sandbox ending), not that its routes vanished. Comparisons triggered by events
  // land exactly there (every sandbox of a batch ending at once), so this is not drift.
  if (route === undefined || fib === undefined || route6 === undefined || addr6 === undefined) return undefined;
  // Still alive after the reads (an exiting process loses its namespaces, then these files).
  if (linkOrMissing(`/proc/${pid}/ns/net`) === undefined) return undefined;
  return {
    ...links,
    'sandbox IPv4 routes': route,
    'sandbox IPv4 addresses': fib,
    'sandbox IPv6 routes': route6,
    'sandbox IPv6 addresses': addr6,
  };
}

/** The host side of an attached slot: its link, its routes and its firewall table. */
export async function readHostSide(slot: NetworkSlot, ctx: CheckContext): Promise<NetworkSnapshot> {
  const sys = `/sys/class/net/${slot.hostLink}`;
  // Configuration only: ifindex (the same link) and flags (IFF_UP, the admin state someone would
  // have to change). Not operstate: the kernel derives it from the carrier asynchronously (link
  // events are batched up to a second apart host-wide), so a slot built beside others can record
  // "down" and turn "up" later with nobody changing anything.
  const [ifindex, flags] = ['ifindex', 'flags'].map((f) => readKernelFileOrMissing(`${sys}/${f}`));
  const link = ifindex === undefined ? 'missing' : `${slot.hostLink} ifindex=${ifindex.trim()} flags=${flags?.trim()}`;
  const routes = (await ctx.hostRoutes()).filter((line) => line.split('\t')[0] === slot.hostLink).sort().join('\n');
  const items = (await ctx.ruleset()).filter((item) => {
    const body = Object.values(item)[0];
    return body?.family === 'inet' && (body.table === slot.table || (body.name === slot.table && 'table' in item));
  });
  return {
    'host link': link,
    'host routes': routes,
    'firewall rules': items.length === 0 ? 'missing' : JSON.stringify(items),
  };
}

/**
 * What changed between two snapshots, one line per facet, naming the object and before → after
 * (empty when nothing did): `host link: al-n5 ifindex=7 flags=0x1003 → … flags=0x1002`,
 * `firewall rules: - rule inet airlock-n5 input #4: iifname "al-n5" drop`.
 */
export function describeDrift(before: NetworkSnapshot, after: NetworkSnapshot): string[] {
  const changes: string[] = [];
  for (const facet of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = before[facet] ?? '';
    const now = after[facet] ?? '';
    if (was === now) continue;
    if (facet === 'firewall rules') changes.push(`${facet}: ${firewallDiff(was, now)}`);
    else if (now === 'missing') changes.push(`${facet}: removed (was ${clip(was)})`);
    else if (facet === 'sandbox links' || facet === 'host link') changes.push(`${facet}: ${was || '(none)'} → ${now || '(none)'}`);
    else if (facet === 'host routes') changes.push(`${facet}: ${lineDiff(was, now, ipv4Route)}`);
    else changes.push(`${facet}: ${lineDiff(was, now, (l) => l.trim())}`);
  }
  return changes;
}

function firewallDiff(was: string, now: string): string {
  const items = (text: string): NftItem[] => (text === 'missing' || text === '' ? [] : (JSON.parse(text) as NftItem[]));
  if (now === 'missing') return `the sandbox's table was deleted (${items(was).length} objects)`;
  const diff = diffItems(items(was), items(now));
  return diff.length > 0 ? diff.join('; ') : 'the table changed in a way its listing does not name';
}

function lineDiff(was: string, now: string, show: (line: string) => string): string {
  const before = new Set(was.split('\n').filter(Boolean));
  const after = new Set(now.split('\n').filter(Boolean));
  const removed = [...before].filter((l) => !after.has(l)).slice(0, 3).map((l) => `- ${show(l)}`);
  const added = [...after].filter((l) => !before.has(l)).slice(0, 3).map((l) => `+ ${show(l)}`);
  return clip([...removed, ...added].join('; ').replace(/\s+/g, ' '));
}

/** A /proc/net/route line (little-endian hex) as `10.213.0.0/30 dev al-n5` (via, metric when set). */
function ipv4Route(line: string): string {
  const [iface, dest, gateway, , , , metric, mask] = line.split('\t');
  if (iface === undefined || dest === undefined || mask === undefined) return line.trim();
  const ip = (hex: string) => (hex.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join('.');
  const bits = [...parseInt(mask, 16).toString(2)].filter((b) => b === '1').length;
  const via = gateway !== undefined && parseInt(gateway, 16) !== 0 ? ` via ${ip(gateway)}` : '';
  const cost = metric !== undefined && metric !== '0' ? ` metric ${metric}` : '';
  return `${ip(dest)}/${bits}${via} dev ${iface}${cost}`;
}

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 299)}…` : text;
}

/** Items of `nft -j list ...` output, without the metainfo header. */
function parseNftJson(text: string): NftItem[] {
  return (JSON.parse(text) as { nftables: NftItem[] }).nftables.filter((item) => !('metainfo' in item));
}

/** A context whose reads happen once, on first use: `listNft` gives `nft -j list …` output. */
export function checkContext(listNft: () => Promise<string>): CheckContext {
  let ruleset: Promise<NftItem[]> | undefined;
  let routes: Promise<string[]> | undefined;
  return {
    ruleset: () => (ruleset ??= listNft().then(parseNftJson)),
    hostRoutes: () => (routes ??= hostRouteLines()),
  };
}

/** The host's IPv4 routing table, one line per route; a table that can't be read fails the check. */
async function hostRouteLines(): Promise<string[]> {
  const table = readKernelFileOrMissing('/proc/net/route');
  if (table === undefined) throw new Error('cannot read /proc/net/route');
  return table.split('\n').slice(1).filter(Boolean);
}
