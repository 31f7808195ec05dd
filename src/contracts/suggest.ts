/**
 * A contract proposed from evidence: what an agent actually did in its recorded sandboxes (the
 * audit log's sandbox.created, execution.finished and egress records). Runtimes, network modes,
 * secrets, the highest limits it asked for, and the hosts it reached (allowed egress only:
 * refused attempts are not evidence of need). Operators review it and tighten from there.
 */
import type { AuditRecord } from '../audit/record.ts';
import type { Contract } from './schema.ts';

/** Ports a bare host entry already covers (the proxy's default allowed ports). */
const DEFAULT_PORTS = new Set([80, 443]);

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** The contract the records support; clauses with no evidence are left out (not narrowed). */
export function suggestContract(records: Iterable<AuditRecord>): { contract: Contract; evidence: { sandboxes: number; executions: number; egress: number } } {
  const runtimes = new Set<string>();
  const modes = new Set<string>();
  const secrets = new Set<string>();
  const hosts = new Set<string>();
  const limits: Record<'memory_mb' | 'cpu' | 'pids' | 'timeout_seconds', number | undefined> = { memory_mb: undefined, cpu: undefined, pids: undefined, timeout_seconds: undefined };
  const most = (name: keyof typeof limits, value: number | undefined) => {
    if (value !== undefined) limits[name] = Math.max(limits[name] ?? 0, value);
  };
  const evidence = { sandboxes: 0, executions: 0, egress: 0 };
  for (const r of records) {
    const d = r.data;
    if (r.kind === 'sandbox.created') {
      evidence.sandboxes++;
      if (typeof d['runtime'] === 'string') runtimes.add(d['runtime']);
      if (typeof d['network_policy'] === 'string') modes.add(d['network_policy']);
      for (const s of strings(d['secrets'])) secrets.add(s);
      const l = (d['limits'] ?? {}) as Record<string, unknown>;
      most('memory_mb', num(l['memory_limit_mb']));
      most('cpu', num(l['cpu_limit']));
      most('pids', num(l['pids_limit']));
      most('timeout_seconds', num(l['timeout_seconds']));
    } else if (r.kind === 'execution.finished') {
      evidence.executions++;
      if (typeof d['runtime_used'] === 'string') runtimes.add(d['runtime_used']);
    } else if (r.kind === 'egress' && d['allowed'] === true && d['kind'] !== 'service' && typeof d['host'] === 'string') {
      evidence.egress++;
      const port = num(d['port']);
      hosts.add(port === undefined || DEFAULT_PORTS.has(port) ? d['host'] : `${d['host']}:${port}`);
    }
  }
  const contract: Contract = { enforce: 'record' };
  if (runtimes.size > 0) contract.runtimes = [...runtimes].sort() as Contract['runtimes'];
  if (modes.size > 0) contract.network_modes = [...modes].sort() as Contract['network_modes'];
  // Why hosts only with evidence of network use: an agent that never had a network gets `network_modes: ["none"]`, which says it already.
  if (modes.has('restricted') || modes.has('full') || hosts.size > 0) contract.hosts = [...hosts].sort();
  if (evidence.sandboxes > 0) contract.secrets = [...secrets].sort();
  const bounded = Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
  if (Object.keys(bounded).length > 0) contract.limits = bounded;
  return { contract, evidence };
}
