/**
 * An attached network (`restricted`, `full`) for a microvm guest. The network manager prepared the
 * slot's namespace as for every tier (veth to the host holding the sandbox's address, the
 * default route on `full`, the host-side nft table, the drift watch). Here, before the VMM runs,
 * the controller (root) hands that IPv4 configuration to the guest: it reads the address and the
 * default route, removes them from the namespace, and joins the veth and a tap (root's) in a
 * bridge. The launch attaches to the tap as root (tap-open.c) and hands QEMU the descriptor. The
 * guest's eth0 then carries exactly the address the host-side rules expect, and the namespace
 * itself holds no address: nothing in it but the guest can use the link.
 */
import { existsSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCBinary, HARDENED_CFLAGS, type BuildStamps } from '../../host/c-build.ts';
import { ControlError } from '../../host/control-error.ts';
import { findNetTool, runTool } from '../../network/host-tools.ts';
import type { GuestNetwork } from './channel.ts';
import { GUEST_TAP } from './qemu.ts';

/** The tap opener's source. */
export const TAP_OPEN_SOURCE = fileURLToPath(new URL('./tap-open.c', import.meta.url));

/** The bridge joining the slot's veth and the guest's tap, inside the slot's namespace. */
export const GUEST_BRIDGE = 'airlock-br';

interface IpAddress {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

interface IpRoute {
  dst: string;
  gateway?: string;
}

/** Builds the launch's tap opener (static, hardened flags, verified on reuse). */
export async function ensureTapOpener(stateDir: string, stamps: BuildStamps): Promise<string> {
  const spec = { stateDir, kind: 'microvm-tap-open', source: TAP_OPEN_SOURCE, binaryName: 'airlock-tap-open', cflags: HARDENED_CFLAGS, control: 'network.tap', purpose: 'the microvm tap opener' };
  return (await ensureCBinary(spec, stamps)).path;
}

/**
 * Prepares the slot's namespace at `netnsPath` for a guest (`nsenter`: to set its sysctls), and
 * returns what the guest's eth0 must carry. `resolvConf`: the sandbox's (full networks). Fails closed
 * with a ControlError naming `network.tap`; the slot's release removes whatever was made.
 */
export async function prepareGuestTap(netnsPath: string, resolvConf: string | undefined, nsenter: string): Promise<GuestNetwork> {
  // Why: `ip -n` names namespaces under /run/netns only; any other path is not a slot of ours.
  if (dirname(netnsPath) !== '/run/netns') throw new ControlError('network.tap', `${netnsPath} is not a named network namespace`);
  const netns = basename(netnsPath);
  try {
    const ip = findNetTool('ip');
    const addrs = JSON.parse(await runTool(ip, ['-n', netns, '-j', '-4', 'addr', 'show'])) as IpAddress[];
    const withAddress = addrs.filter((a) => a.ifname !== 'lo' && (a.addr_info ?? []).some((i) => i.family === 'inet'));
    const link = withAddress[0];
    const inet = link?.addr_info?.find((i) => i.family === 'inet');
    if (link === undefined || inet === undefined || withAddress.length !== 1) throw new Error(`expected one link with an IPv4 address, found ${withAddress.length}`);
    const routes = JSON.parse(await runTool(ip, ['-n', netns, '-j', '-4', 'route', 'show', 'default'])) as IpRoute[];
    const gateway = routes.find((r) => r.dst === 'default')?.gateway;
    // Why: the tap and the bridge get no IPv6 at all (their multicast routes' counters would read as drift; the slot carries IPv4 only).
    if (existsSync('/proc/sys/net/ipv6')) await runTool(nsenter, [`--net=${netnsPath}`, '--', 'tee', '/proc/sys/net/ipv6/conf/default/disable_ipv6'], { input: '1\n' });
    await runTool(ip, ['-n', netns, '-batch', '-'], { input: [
      // Why no owner: only root (the launch, tap-open.c) may attach; QEMU gets the descriptor, never the device.
      `tuntap add dev ${GUEST_TAP} mode tap`,
      `link set ${GUEST_TAP} addrgenmode none`,
      `link add ${GUEST_BRIDGE} type bridge`,
      `link set ${GUEST_BRIDGE} addrgenmode none`,
      // Why: the address moves to the guest; the namespace keeps none, so no route of its own either.
      'route flush table main',
      `addr flush dev ${link.ifname}`,
      `link set ${link.ifname} master ${GUEST_BRIDGE}`,
      `link set ${GUEST_TAP} master ${GUEST_BRIDGE}`,
      `link set ${GUEST_TAP} up`,
      `link set ${GUEST_BRIDGE} up`,
      '',
    ].join('\n') });
    return { address: inet.local, prefixLength: inet.prefixlen, gateway, resolvConf };
  } catch (err) {
    if (err instanceof ControlError && err.control === 'network.tap') throw err;
    throw new ControlError('network.tap', `cannot give the guest its network in ${netns}: ${(err as Error).message}`, { cause: err });
  }
}
