/**
 * Decides whether a canonical host:port may be reached and, if so, which single address to
 * connect to. Names are looked up once, only after the allowlist admits them, and the chosen
 * address is pinned: nothing downstream resolves again, so DNS rebinding has no second answer to use.
 */
import type { AllowRule } from './allow-entry.ts';
import { findAllowRule } from './allowlist.ts';
import { ABSOLUTE_ADDRESS_REASONS, type AddressClassifier } from './addresses.ts';
import { canonicalIp, isIpHost } from './host-name.ts';
import type { Resolver } from './types.ts';

export interface DestinationContext {
  rules: readonly AllowRule[];
  resolve: Resolver;
  classify: AddressClassifier;
  timeoutMs: number;
}

export type Destination =
  | { allowed: true; address: string; family: 4 | 6 }
  | { allowed: false; reason: string; address?: string };

/** Judges a canonical host and port; never throws. */
export async function judgeDestination(host: string, port: number, context: DestinationContext): Promise<Destination> {
  const rule = findAllowRule(context.rules, host, port);
  if (isIpHost(host)) return judgeLiteral(host, rule, context.classify);
  // Why: an unlisted name is never looked up, so DNS cannot be used as an exfiltration channel.
  if (rule === undefined) return { allowed: false, reason: 'not_allowlisted' };
  const answers = await resolveWithin(host, context);
  if (answers === null || answers.length === 0) return { allowed: false, reason: 'dns_failure' };
  let firstRefusal: Destination | undefined;
  for (const answer of answers) {
    const address = canonicalIp(answer.address);
    if (address === null) continue;
    // Why: a name's addresses are never exempt; only an exact IP rule may reach an internal address.
    const reason = context.classify(address);
    if (reason === null) return { allowed: true, address, family: address.includes(':') ? 6 : 4 };
    firstRefusal ??= { allowed: false, reason, address };
  }
  return firstRefusal ?? { allowed: false, reason: 'dns_failure' };
}

function judgeLiteral(address: string, rule: AllowRule | undefined, classify: AddressClassifier): Destination {
  const reason = classify(address);
  if (reason !== null && (ABSOLUTE_ADDRESS_REASONS.has(reason) || rule === undefined)) return { allowed: false, reason, address };
  if (rule === undefined) return { allowed: false, reason: 'not_allowlisted', address };
  return { allowed: true, address, family: address.includes(':') ? 6 : 4 };
}

async function resolveWithin(host: string, context: DestinationContext) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), context.timeoutMs);
  });
  try {
    return await Promise.race([context.resolve(host).catch(() => null), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
