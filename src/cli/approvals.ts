/**
 * `airlock approvals ls|show|approve|deny`: the approvals policy asks for, on a running server. An
 * approver decides by signing `{approval_id, action_digest, decision, nonce, expires_at}` with its
 * Ed25519 key (`--key FILE` / `$AIRLOCK_KEY`, the same key that signs the request). Before signing,
 * the request the approval is for is shown; the decision is confirmed on a terminal, or with `--yes`.
 * Server and key are chosen as for `airlock sandbox` (server-connection.ts). The implementations
 * (approvals-actions.ts) load only when a subcommand runs.
 */
import type { Command } from 'commander';
import type { ApprovalListOptions, DecideOptions } from './approvals-actions.ts';
import { addServerOptions } from './server-flags.ts';

const RAW_HELP = 'print server-chosen text as is, control characters included (default: escaped, e.g. \\x1b)';
const actions = () => import('./approvals-actions.ts');

/** Registers `approvals` and its subcommands on the program. */
export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('List, show, approve and deny the signed approvals policy asks for.');

  addServerOptions(approvals.command('ls').description('list approvals: approvers and operators see all, an agent its own'))
    .option('--json', 'print JSON instead of a table', false)
    .option('--raw', RAW_HELP, false)
    .action(async (opts: ApprovalListOptions) => {
      process.exitCode = await (await actions()).listAction(opts);
    });

  addServerOptions(approvals.command('show').description('show an approval and the request it is for').argument('<id>', 'approval id'))
    .option('--json', 'print JSON', false)
    .option('--raw', RAW_HELP, false)
    .action(async (id: string, opts: ApprovalListOptions) => {
      process.exitCode = await (await actions()).showAction(id, opts);
    });

  for (const decision of ['approve', 'deny'] as const) {
    addServerOptions(approvals.command(decision).description(`${decision} an approval: shows the request, then signs the decision with --key`).argument('<id>', 'approval id'))
      .option('--expires-in <duration>', "the decision's lifetime: 90s, 5m, 1h; never past the approval's own expiry", '5m')
      .option('--yes', 'decide without asking (needed when stdin is not a terminal)', false)
      .option('--json', 'print the decided approval as JSON', false)
      .option('--raw', RAW_HELP, false)
      .action(async (id: string, opts: DecideOptions) => {
        process.exitCode = await (await actions()).decideAction(id, decision, opts);
      });
  }
}
