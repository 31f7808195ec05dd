/**
 * Builds and tears down the network of one slot: a named network namespace (owned by the host's
 * user namespace, so nothing inside a sandbox ever holds CAP_NET_ADMIN over it), a veth pair
 * between it and the host, addresses, routes, and the slot's nft table.
 */
import { ControlError } from '../host/control-error.ts';
import { runTool, type NetTools } from './host-tools.ts';
import { renderRules, type AttachedMode } from './nft-rules.ts';
import type { NetworkSlot, SlotLease } from './slots.ts';

export const NETNS_DIR = '/run/netns';

export function netnsPath(slot: NetworkSlot): string {
  return `${NETNS_DIR}/${slot.netns}`;
}

/** Creates namespace, link and addresses (mode-independent: what a pool keeps ready). */
export async function createSlotLink(slot: NetworkSlot, tools: NetTools): Promise<void> {
  const cidr = (address: string) => `${address}/${slot.prefixLength}`;
  try {
    await runTool(tools.ip, ['-batch', '-'], { input: [
      `netns add ${slot.netns}`,
      `link add ${slot.hostLink} type veth peer name ${slot.sandboxLink} netns ${slot.netns}`,
      // No IPv6 link-local address: the link carries exactly the IPv4 pair we assign.
      `link set ${slot.hostLink} addrgenmode none`,
      `addr add ${cidr(slot.hostAddress)} dev ${slot.hostLink}`,
      `link set ${slot.hostLink} up`,
      '',
    ].join('\n') });
    await runTool(tools.ip, ['-n', slot.netns, '-batch', '-'], { input: [
      `link set ${slot.sandboxLink} addrgenmode none`,
      `addr add ${cidr(slot.sandboxAddress)} dev ${slot.sandboxLink}`,
      'link set lo up',
      `link set ${slot.sandboxLink} up`,
      '',
    ].join('\n') });
  } catch (err) {
    // The caller removes whatever part was made (it owns the slot's lease).
    throw new ControlError('network', `cannot create the sandbox network namespace: ${(err as Error).message}`, { cause: err });
  }
}

/** Applies the mode's firewall table (and, for `full`, the default route). Fails closed. */
export async function applySlotMode(slot: NetworkSlot, mode: AttachedMode, proxyPort: number, tools: NetTools): Promise<void> {
  try {
    await runTool(tools.nft, ['-f', '-'], { input: renderRules({ slot, mode, proxyPort }) });
    // Restricted sandboxes get no default route: anything but the proxy fails at once (ENETUNREACH).
    if (mode === 'full') await runTool(tools.ip, ['-n', slot.netns, 'route', 'add', 'default', 'via', slot.hostAddress]);
  } catch (err) {
    throw new ControlError('network.rules', `cannot apply the ${mode} firewall rules: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Removes link, namespace and table, in that order: the sandbox loses its path before its rules,
 * so there is never a moment with a link and no rules. Idempotent; returns what could not be removed.
 */
export async function destroySlotNetwork(slot: NetworkSlot, tools: NetTools): Promise<string[]> {
  const problems: string[] = [];
  const attempt = async (what: string, path: string, args: string[], gone: RegExp) => {
    try {
      await runTool(path, args);
    } catch (err) {
      const message = (err as Error).message;
      if (!gone.test(message)) problems.push(`${what}: ${message}`);
    }
  };
  await attempt('link', tools.ip, ['link', 'del', slot.hostLink], /Cannot find device|does not exist/);
  await attempt('netns', tools.ip, ['netns', 'del', slot.netns], /No such file|Invalid argument/);
  await attempt('rules', tools.nft, ['delete', 'table', 'inet', slot.table], /No such file/);
  return problems;
}

/**
 * Removes a leased slot's network and drops the lease, but only once every piece is gone: a slot
 * with something left stays leased, so the reaper finds and retries it. Returns whether it was.
 */
export async function releaseSlot(lease: SlotLease, tools: NetTools): Promise<boolean> {
  const clean = (await destroySlotNetwork(lease.slot, tools)).length === 0;
  if (clean) lease.release();
  return clean;
}
