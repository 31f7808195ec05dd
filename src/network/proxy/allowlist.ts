/**
 * The allowlist of a `restricted` sandbox: parsing a list of entries (every bad entry reported at
 * once) and matching a canonical host and port against the parsed rules.
 */
import { checkAllowEntry, type AllowRule } from './allow-entry.ts';
import { canonicalHost, isIpHost } from './host-name.ts';

export { checkAllowEntry, DEFAULT_ALLOWED_PORTS, INTERNAL_SERVICE_DOMAIN, isPublicSuffix } from './allow-entry.ts';
export type { AllowRule, EntryResult } from './allow-entry.ts';

export interface AllowlistProblem {
  entry: string;
  reason: string;
}

/** Thrown for an allowlist with bad entries; `problems` names each one with its reason. */
export class AllowlistError extends Error {
  override readonly name = 'AllowlistError';
  readonly problems: AllowlistProblem[];
  constructor(problems: AllowlistProblem[]) {
    super(`invalid allowlist: ${problems.map((p) => `${p.entry}: ${p.reason}`).join('; ')}`);
    this.problems = problems;
  }
}

/** Parses one entry or throws an AllowlistError with that single problem. */
export function parseAllowEntry(entry: string): AllowRule {
  const result = checkAllowEntry(entry);
  if (!result.ok) throw new AllowlistError([{ entry: String(entry), reason: result.reason }]);
  return result.rule;
}

/** Parses every entry; throws one AllowlistError listing all bad entries. */
export function parseAllowlist(entries: string[]): AllowRule[] {
  const rules: AllowRule[] = [];
  const problems: AllowlistProblem[] = [];
  for (const entry of entries) {
    const result = checkAllowEntry(entry);
    if (result.ok) rules.push(result.rule);
    else problems.push({ entry: String(entry), reason: result.reason });
  }
  if (problems.length > 0) throw new AllowlistError(problems);
  return rules;
}

/**
 * The first rule that allows `host:port`, or undefined. `host` may be in any spelling; it is
 * canonicalized first, and one that cannot be is never matched.
 */
export function findAllowRule(rules: readonly AllowRule[], host: string, port: number): AllowRule | undefined {
  const canonical = canonicalHost(host);
  if (canonical === null || !Number.isInteger(port)) return undefined;
  const isIp = isIpHost(canonical);
  return rules.find((rule) => rule.ports.includes(port) && hostMatches(rule, canonical, isIp));
}

/** True when some rule allows `host:port`. */
export function matchesAllowlist(rules: readonly AllowRule[], host: string, port: number): boolean {
  return findAllowRule(rules, host, port) !== undefined;
}

function hostMatches(rule: AllowRule, host: string, isIp: boolean): boolean {
  if (rule.kind === 'ip') return isIp && rule.host === host;
  if (isIp) return false; // Why: a name rule never covers an address, whatever the name resolves to.
  if (rule.kind === 'host') return rule.host === host;
  return host.endsWith(`.${rule.host}`); // Why: `*.example.com` is strict subdomains, never the apex.
}
