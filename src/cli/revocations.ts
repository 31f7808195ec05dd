/**
 * `airlock revoke AGENT --reason …`, `airlock unrevoke AGENT` and `airlock revocations
 * ls|export|import FILE`, on a running server (operators): revoking goes through the controller so
 * that it ends the agent's live sandboxes. Server and key are chosen as for `airlock sandbox`.
 */
import type { Command } from 'commander';
import type { RevocationCliOptions } from './revocations-actions.ts';
import { addServerOptions } from './server-flags.ts';

const actions = () => import('./revocations-actions.ts');

/** Registers `revoke` on the program. */
export function registerRevoke(program: Command): void {
  addServerOptions(program.command('revoke').description("revoke an agent: refuse its new requests and end every live sandbox it owns (end_reason revoked)").argument('<agent>', 'agent id (tenancy id)'))
    .requiredOption('--reason <text>', 'why (recorded, and told to the agent on every refusal)')
    .option('--json', 'print JSON', false)
    .action(async (agent: string, opts: RevocationCliOptions & { reason: string }) => {
      process.exitCode = await (await actions()).revokeAction(agent, opts);
    });
}

/** Registers `unrevoke` on the program. */
export function registerUnrevoke(program: Command): void {
  addServerOptions(program.command('unrevoke').description('lift the revocation of an agent').argument('<agent>', 'agent id'))
    .option('--json', 'print JSON', false)
    .action(async (agent: string, opts: RevocationCliOptions) => {
      process.exitCode = await (await actions()).unrevokeAction(agent, opts);
    });
}

/** Registers `revocations ls|export|import` on the program. */
export function registerRevocations(program: Command): void {
  const revocations = program.command('revocations').description('List revoked agents; export and import signed revocation lists.');
  addServerOptions(revocations.command('ls').description('list revoked agents'))
    .option('--json', 'print JSON', false)
    .action(async (opts: RevocationCliOptions) => {
      process.exitCode = await (await actions()).listAction(opts);
    });
  addServerOptions(revocations.command('export').description("print this controller's revocation list, signed with its controller key (JSON)"))
    .action(async (opts: RevocationCliOptions) => {
      process.exitCode = await (await actions()).exportAction(opts);
    });
  addServerOptions(revocations.command('import').description("apply another controller's signed list (its key must be in revocation.trustedKeys)").argument('<file>', 'the exported JSON, or - for stdin'))
    .option('--json', 'print JSON', false)
    .action(async (file: string, opts: RevocationCliOptions) => {
      process.exitCode = await (await actions()).importAction(file, opts);
    });
}
