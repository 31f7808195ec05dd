/**
 * Decides whether a canonical host:port may be reached and, if so, which single address to
 * connect to. Names are looked up once, only after the allowlist admits them, and the chosen
 * address is pinned: nothing downstream resolves again, so DNS rebinding has no second answer to use.
 * The controller's own listeners are refused first, for literals and for every looked-up address.
 */
import type { AllowRule } from './allow-entry.ts';
import { findAllowRule } from './allowlist.ts';
import { ABSOLUTE_ADDRESS_REASONS, type AddressClassifier } from './addresses.ts';
import type { ProxyContext } from './context.ts';
import type { ListenerEndpoint } from './controller-listeners.ts';
import { canonicalIp, isIpHost } from './host-name.ts';
import type { Resolver } from './types.ts';
import { HOST_SERVICE_ADDRESS, HOST_SERVICE_NAME } from './service-domain.ts';

export interface DestinationContext {
  rules: readonly AllowRule[];
  resolve: Resolver;
  classify: AddressClassifier;
  /** The controller listener an address:port would reach, if any. */
  controllerListener: (address: string, port: number) => ListenerEndpoint | undefined;
  timeoutMs: number;
}

/** The destination context of one request: the allowlist in force now and the proxy's checks. */
export function destinationContext(context: ProxyContext): DestinationContext {
  return {
    rules: context.rules(),
    resolve: context.resolve,
    classify: context.classify,
    controllerListener: context.controllerListener,
    timeoutMs: context.connectTimeoutMs,
  };
}

export type Destination =
  | { allowed: true; address: string; family: 4 | 6 }
  | { allowed: false; reason: string; address?: string };

/**
 * The addresses of an internal service's host (its literal, or one lookup of its name) unless one
 * of them is a controller listener: services are private by nature, so only that check applies.
 */
export async function judgeServiceAddress(host: string, port: number, context: DestinationContext): Promise<Destination> {
  const answers = isIpHost(host) ? [{ address: host }] : await resolveWithin(host, context);
  if (answers === null || answers.length === 0) return { allowed: false, reason: 'dns_failure' };
  const addresses = answers.map((a) => canonicalIp(a.address)).filter((a): a is string => a !== null);
  // Why: an operator's service whose name resolves to the controller must not become a way into it.
  const listener = addresses.find((a) => context.controllerListener(a, port) !== undefined);
  if (listener !== undefined) return { allowed: false, reason: 'controller_listener', address: listener };
  const first = addresses[0];
  return first === undefined ? { allowed: false, reason: 'dns_failure' } : { allowed: true, address: first, family: first.includes(':') ? 6 : 4 };
}

/** Judges a canonical host and port; never throws. */
export async function judgeDestination(host: string, port: number, context: DestinationContext): Promise<Destination> {
  const rule = findAllowRule(context.rules, host, port);
  if (host === HOST_SERVICE_NAME) return judgeHostService(port, rule, context);
  if (isIpHost(host)) return judgeLiteral(host, port, rule, context);
  // Why: an unlisted name is never looked up, so DNS cannot be used as an exfiltration channel.
  if (rule === undefined) return { allowed: false, reason: 'not_allowlisted' };
  const answers = await resolveWithin(host, context);
  if (answers === null || answers.length === 0) return { allowed: false, reason: 'dns_failure' };
  let firstRefusal: Destination | undefined;
  for (const answer of answers) {
    const address = canonicalIp(answer.address);
    if (address === null) continue;
    // Why: a name's addresses are never exempt; only an exact IP rule may reach an internal address.
    const reason = context.controllerListener(address, port) !== undefined ? 'controller_listener' : context.classify(address);
    if (reason === null) return { allowed: true, address, family: address.includes(':') ? 6 : 4 };
    firstRefusal ??= { allowed: false, reason, address };
  }
  return firstRefusal ?? { allowed: false, reason: 'dns_failure' };
}

/** `host.airlock.internal:PORT`: the host's loopback at that port, only with an entry naming it; never DNS. */
function judgeHostService(port: number, rule: AllowRule | undefined, context: DestinationContext): Destination {
  if (rule === undefined) return { allowed: false, reason: 'not_allowlisted' };
  // Why: the controller's API, proxies and inspector listen on loopback too; no entry may open them.
  if (context.controllerListener(HOST_SERVICE_ADDRESS, port) !== undefined) return { allowed: false, reason: 'controller_listener', address: HOST_SERVICE_ADDRESS };
  return { allowed: true, address: HOST_SERVICE_ADDRESS, family: 4 };
}

function judgeLiteral(address: string, port: number, rule: AllowRule | undefined, context: DestinationContext): Destination {
  const reason = context.classify(address);
  if (reason !== null && ABSOLUTE_ADDRESS_REASONS.has(reason)) return { allowed: false, reason, address };
  // Why: the controller's API, proxies and inspector steer every sandbox; no allowlist entry may open them.
  if (context.controllerListener(address, port) !== undefined) return { allowed: false, reason: 'controller_listener', address };
  if (reason !== null && rule === undefined) return { allowed: false, reason, address };
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
