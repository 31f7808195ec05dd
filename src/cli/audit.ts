/**
 * `airlock audit verify [--from-head FILE] [--key FILE]`: checks the whole audit log in the store
 * against its signed heads (and a head kept elsewhere), naming the first index modified, deleted,
 * inserted or reordered (exit 1). `airlock audit tail [-f] [--sandbox ID] [--agent A] [-n N]`: the
 * last records, then (with -f) each new one as it is committed. Both read the store directly (the
 * controller's host, as root): a verifier must not take the server's word for the log.
 */
import type { Command } from 'commander';
import { UsageError } from './usage-error.ts';

interface VerifyOptions {
  fromHead?: string;
  key?: string;
  json: boolean;
}

interface TailOptions {
  follow: boolean;
  sandbox?: string;
  agent?: string;
  lines: string;
  json: boolean;
}

/** Registers `audit verify` and `audit tail`. */
export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('Check and follow the tamper-evident audit log.');
  audit
    .command('verify')
    .description('check the whole log against its signed heads; name the first index modified, deleted, inserted or reordered')
    .option('--from-head <file>', 'a signed tree head (JSON, e.g. saved from GET /api/v1/audit/head) kept outside the store')
    .option('--key <file>', "the controller's public key (default: the configured controller key's .pub)")
    .option('--json', 'print the result as JSON', false)
    .action(async (opts: VerifyOptions) => {
      const { verifyAuditCommand } = await import('./audit-actions.ts');
      await verifyAuditCommand(program.opts<{ config?: string }>().config, opts);
    });
  audit
    .command('tail')
    .description('print the last records of the log; with -f, follow it')
    .option('-f, --follow', 'keep printing records as they are committed', false)
    .option('--sandbox <id>', 'only this sandbox')
    .option('--agent <agent>', "only this agent's records")
    .option('-n, --lines <n>', 'how many records to start with', '20')
    .option('--json', 'one record per line as JSON (NDJSON)', false)
    .action(async (opts: TailOptions) => {
      if (!/^\d{1,6}$/.test(opts.lines)) throw new UsageError(`--lines: a whole number, got "${opts.lines}"`);
      const { tailAuditCommand } = await import('./audit-actions.ts');
      await tailAuditCommand(program.opts<{ config?: string }>().config, { ...opts, lines: Number(opts.lines) });
    });
}

/** Registers `receipt verify FILE --key CONTROLLER.pub`. */
export function registerReceipt(program: Command): void {
  program
    .command('receipt')
    .description('Check receipts of executions and sandboxes.')
    .command('verify')
    .description('check a receipt offline: its record, inclusion proof and the signed tree head')
    .argument('<file>', 'the receipt (JSON): the receipt object, or a result or sandbox that carries one')
    .requiredOption('--key <file>', "the controller's public key (controller.key.pub)")
    .option('--json', 'print the result as JSON', false)
    .action(async (file: string, opts: { key: string; json: boolean }) => {
      const { verifyReceiptCommand } = await import('./audit-actions.ts');
      await verifyReceiptCommand(file, opts);
    });
}
