/**
 * Whether a request stays within its owner's contract, clause by clause: the one place the rule
 * lives. Admission asks it for every new sandbox and network change (./step.ts); the egress check
 * at run time (./egress.ts) uses the same host matching.
 */
import { checkAllowEntry, findAllowRule, type AllowRule } from '../network/proxy/allowlist.ts';
import type { SandboxSpec } from '../policy/request.ts';
import type { Contract } from './schema.ts';

/** A request beyond a contract: the clause it breaks and why. */
export interface ContractBreach {
  /** `hosts`, `paths.read`, `limits.memory_mb`, … */
  readonly clause: string;
  readonly reason: string;
}

/** The contract's hosts as allow rules (entries were validated when it was set). */
export function contractRules(contract: Contract): AllowRule[] | undefined {
  return contract.hosts?.flatMap((entry) => {
    const checked = checkAllowEntry(entry);
    return checked.ok ? [checked.rule] : [];
  });
}

/** Whether `rule` (a request's allowlist entry) allows nothing the contract's rules don't. */
function ruleWithin(rule: AllowRule, allowed: readonly AllowRule[]): boolean {
  if (rule.kind !== 'wildcard') return rule.ports.every((port) => findAllowRule(allowed, rule.host, port) !== undefined);
  // Why a wildcard needs a wildcard: `*.example.com` reaches names no list of hosts can enumerate.
  return rule.ports.every((port) => allowed.some((a) => a.kind === 'wildcard' && a.ports.includes(port) && (rule.host === a.host || rule.host.endsWith(`.${a.host}`))));
}

/** Whether `path` is one of `roots` or below one. */
function under(path: string, roots: readonly string[]): boolean {
  const p = path.replace(/\/+$/, '');
  return roots.some((root) => {
    const r = root.replace(/\/+$/, '');
    return p === r || p.startsWith(`${r}/`) || r === '';
  });
}

/** The first clause `spec` breaks (checked in a fixed order), or undefined when it fits. */
export function contractBreach(contract: Contract, spec: SandboxSpec, services: readonly string[] = []): ContractBreach | undefined {
  if (contract.runtimes !== undefined && !contract.runtimes.includes(spec.runtime as 'gvisor')) {
    return { clause: 'runtimes', reason: `runtime ${spec.runtime} is not one of ${contract.runtimes.join(', ')}` };
  }
  if (contract.network_modes !== undefined && !contract.network_modes.includes(spec.network.mode)) {
    return { clause: 'network_modes', reason: `network mode ${spec.network.mode} is not one of ${contract.network_modes.join(', ')}` };
  }
  const rules = contractRules(contract);
  if (rules !== undefined) {
    if (spec.network.mode === 'full') return { clause: 'hosts', reason: 'network mode full reaches any host; the contract lists the hosts it may reach' };
    for (const entry of spec.network.allowedHosts) {
      const checked = checkAllowEntry(entry);
      if (!checked.ok || !ruleWithin(checked.rule, rules)) return { clause: 'hosts', reason: `${entry} is not among the contract's hosts (${contract.hosts?.join(', ') || 'none'})` };
    }
  }
  if (contract.services !== undefined) {
    const extra = services.find((s) => !contract.services?.includes(s));
    if (extra !== undefined) return { clause: 'services', reason: `service ${extra} is not one of ${contract.services.join(', ') || 'none'}` };
  }
  if (contract.paths !== undefined) {
    const { read, write } = contract.paths;
    for (const mount of spec.mounts) {
      if (mount.writable && !under(mount.hostPath, write)) return { clause: 'paths.write', reason: `${mount.hostPath} may not be granted writable (contract: ${write.join(', ') || 'none'})` };
      if (!mount.writable && !under(mount.hostPath, [...read, ...write])) return { clause: 'paths.read', reason: `${mount.hostPath} may not be granted (contract: ${[...read, ...write].join(', ') || 'none'})` };
    }
  }
  if (contract.secrets !== undefined) {
    const extra = (spec.secrets ?? []).find((s) => !contract.secrets?.includes(s));
    if (extra !== undefined) return { clause: 'secrets', reason: `secret ${extra} is not one of ${contract.secrets.join(', ') || 'none'}` };
  }
  const limits = contract.limits ?? {};
  const asked: [keyof typeof limits, number][] = [
    ['memory_mb', spec.limits.memoryMb],
    ['cpu', spec.limits.cpuCores],
    ['pids', spec.limits.pids],
    ['timeout_seconds', spec.limits.timeoutSeconds],
  ];
  for (const [name, value] of asked) {
    const most = limits[name];
    if (most !== undefined && value > most) return { clause: `limits.${name}`, reason: `${value} is above the contract's ${most}` };
  }
  return undefined;
}
