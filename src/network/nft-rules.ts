/**
 * The host-side firewall of one attached sandbox, as one nft table of its own (`inet airlock-nN`).
 * One table per sandbox: it is created and deleted atomically, never shares state with another
 * sandbox, and its listing is the snapshot the drift watch compares. Pure: rendered text only.
 *
 * The rules sit in the host's network namespace, where nothing inside the sandbox can reach them.
 */
import { REFUSED_IPV4_CIDRS } from './proxy/address-ranges.ts';
import type { NetworkSlot } from './slots.ts';

/**
 * IPv4 destinations `full` mode never forwards to: the egress proxy's own refused ranges (private,
 * loopback, link-local, CGNAT, special and documentation ranges) and cloud metadata addresses.
 */
export const FULL_MODE_REFUSED_V4 = REFUSED_IPV4_CIDRS;

export type AttachedMode = 'restricted' | 'full';

export interface RuleOptions {
  slot: NetworkSlot;
  mode: AttachedMode;
  /** Egress proxy port on the host-side address (restricted mode). */
  proxyPort: number;
}

/** The complete `nft -f` script that creates the sandbox's table. */
export function renderRules({ slot, mode, proxyPort }: RuleOptions): string {
  const link = JSON.stringify(slot.hostLink);
  // Priority before the default filter chains: our drop is final whatever other tables accept.
  const filter = (hook: string) => `type filter hook ${hook} priority filter - 10; policy accept;`;
  const input =
    mode === 'restricted'
      ? [
          // The one way out of a restricted sandbox: its own egress proxy, from its own address.
          `iifname ${link} ip saddr ${slot.sandboxAddress} ip daddr ${slot.hostAddress} tcp dport ${proxyPort} accept`,
          `iifname ${link} drop`,
        ]
      : // Full mode still never reaches the host itself (any of its addresses, any port).
        [`iifname ${link} drop`];
  const forward =
    mode === 'restricted'
      ? [`iifname ${link} drop`, `oifname ${link} drop`]
      : [
          // No spoofed sources, no IPv6, no private or special destinations; the rest is NAT'd out.
          `iifname ${link} ip saddr != ${slot.sandboxAddress} drop`,
          `iifname ${link} meta nfproto != ipv4 drop`,
          `iifname ${link} ip daddr { ${FULL_MODE_REFUSED_V4.join(', ')} } drop`,
          `iifname ${link} accept`,
          `oifname ${link} ct state established,related accept`,
          `oifname ${link} drop`,
        ];
  const lines = [
    `table inet ${slot.table} {`,
    `  chain input {`,
    `    ${filter('input')}`,
    ...input.map((r) => `    ${r}`),
    `  }`,
    `  chain forward {`,
    `    ${filter('forward')}`,
    ...forward.map((r) => `    ${r}`),
    `  }`,
  ];
  if (mode === 'full') {
    lines.push(
      `  chain postrouting {`,
      `    type nat hook postrouting priority srcnat; policy accept;`,
      `    ip saddr ${slot.sandboxAddress} oifname != ${link} masquerade`,
      `  }`,
    );
  }
  lines.push(`}`, '');
  return lines.join('\n');
}
