/**
 * The `airlock approvals …` implementations, on the SDK. Results go to stdout; the request shown
 * before a decision and the question go to stderr. Each function returns the process exit code.
 */
import { createInterface } from 'node:readline/promises';
import { decideApproval, getApproval, listApprovals, signApprovalDecision, type ApprovalInfo } from '../../sdk/approvals.ts';
import { resolveKey, withServerClient, type ServerOptions } from './server-connection.ts';
import { formatTable } from './table.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

/** Options of `approvals ls` and `approvals show`. */
export interface ApprovalListOptions extends ServerOptions {
  json?: boolean;
  raw?: boolean;
}

/** Options of `approvals approve|deny`. */
export interface DecideOptions extends ApprovalListOptions {
  expiresIn: string;
  yes?: boolean;
}

const MAX_DECISION_SECONDS = 86_400;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** `90`, `90s`, `5m`, `1h` → seconds; a UsageError naming `--expires-in` otherwise. */
export function parseDuration(value: string): number {
  const match = /^(\d{1,6})([smh]?)$/.exec(value.trim());
  const seconds = match === null ? NaN : Number(match[1]) * (UNIT_SECONDS[match[2] || 's'] ?? NaN);
  if (!(seconds > 0) || seconds > MAX_DECISION_SECONDS) throw new UsageError(`--expires-in: "${value}" is not a duration from 1s to 24h (e.g. 90s, 5m, 1h)`);
  return seconds;
}

const json = (value: unknown, raw: boolean | undefined) => `${raw === true ? JSON.stringify(value, null, 2) : terminalSafeJson(value)}\n`;

/** An approval for people: one `field: value` line each, then the request it is for. */
export function formatApproval(a: ApprovalInfo, raw?: boolean): string {
  const lines: [string, string][] = [
    ['approval', a.approval_id],
    ['state', a.state],
    ['action', a.action],
    ['sandbox', a.sandbox_id ?? '-'],
    ['requester', `${a.requester.name} (agent ${a.requester.agent_id})`],
    ['policies', a.policy_ids.join(', ') || '-'],
    ['reasons', a.reasons.join('; ') || '-'],
    ['digest', a.action_digest],
    ['created', a.created_at],
    ['expires', a.expires_at],
  ];
  if (a.decided_by !== null) lines.push(['decided by', `${a.decided_by} at ${a.decided_at ?? '?'} (valid until ${a.decision_expires_at ?? '?'})`]);
  const head = lines.map(([k, v]) => `${`${k}:`.padEnd(12)}${terminalSafe(v, { raw: raw === true })}`).join('\n');
  return `${head}\nrequest:\n${json(a.summary, raw)}`;
}

/** `approvals ls`. */
export function listAction(opts: ApprovalListOptions): Promise<number> {
  return withServerClient(opts, async (client) => {
    const approvals = await listApprovals(client);
    if (opts.json === true) {
      process.stdout.write(json(approvals, opts.raw));
      return 0;
    }
    const rows = [['ID', 'STATE', 'ACTION', 'REQUESTER', 'SANDBOX', 'EXPIRES']];
    for (const a of approvals) rows.push([a.approval_id, a.state, a.action, a.requester.name, a.sandbox_id ?? '-', a.expires_at]);
    process.stdout.write(formatTable(rows, { raw: opts.raw === true }));
    return 0;
  });
}

/** `approvals show ID`. */
export function showAction(id: string, opts: ApprovalListOptions): Promise<number> {
  return withServerClient(opts, async (client) => {
    const approval = await getApproval(client, id);
    process.stdout.write(opts.json === true ? json(approval, opts.raw) : formatApproval(approval, opts.raw));
    return 0;
  });
}

async function confirmed(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/** `approvals approve|deny ID`: shows the request, confirms, signs the decision with the key and submits it. */
export async function decideAction(id: string, decision: 'approve' | 'deny', opts: DecideOptions): Promise<number> {
  const lifetime = parseDuration(opts.expiresIn);
  if (resolveKey(opts) === undefined) throw new UsageError(`${decision}: needs --key FILE or AIRLOCK_KEY: the approver's private key signs the decision`);
  // Why: an approver must see what it signs; with no terminal to ask on, only --yes says it did.
  if (opts.yes !== true && process.stdin.isTTY !== true) throw new UsageError(`${decision}: stdin is not a terminal to confirm on; pass --yes to decide without asking`);
  return withServerClient(opts, async (client, connection) => {
    const signer = connection.options.signer;
    if (signer === undefined) throw new UsageError(`${decision}: needs --key FILE or AIRLOCK_KEY`);
    const approval = await getApproval(client, id);
    process.stderr.write(formatApproval(approval, opts.raw));
    if (approval.state !== 'pending') throw new Error(`approval ${id} is ${approval.state}: there is nothing to decide`);
    if (opts.yes !== true && !(await confirmed(`${decision} ${id} as key ${signer.keyId}? [y/N] `))) {
      process.stderr.write('nothing decided\n');
      return 1;
    }
    // Never past the approval's own expiry: the server refuses such a decision.
    const expiresAt = Math.min(Date.now() + lifetime * 1000, Date.parse(approval.expires_at));
    const signed = await signApprovalDecision(signer, { approval_id: approval.approval_id, action_digest: approval.action_digest, decision, expires_at: new Date(expiresAt) });
    const decided = await decideApproval(client, id, signed);
    if (opts.json === true) process.stdout.write(json(decided, opts.raw));
    else process.stdout.write(`${terminalSafe(`${decided.state} ${decided.approval_id} (decided by ${decided.decided_by ?? '?'})`, { raw: opts.raw === true })}\n`);
    return 0;
  });
}
