/**
 * `airlock` command line. One file per command; this file only wires them together.
 * Exit codes: the sandboxed command's own code for `run`; 2 for usage errors; 3 when a request
 * waits for an approver's decision (`airlock sandbox …`, see approval-retry.ts); 1 for other failures.
 */
import { Command, CommanderError } from 'commander';
import { registerRun } from './run.ts';
import { registerDoctor } from './doctor.ts';
import { registerImage } from './image.ts';
import { registerServe } from './serve.ts';
import { registerSandbox } from './sandbox.ts';
import { registerPolicy } from './policy.ts';
import { registerKeys } from './keys.ts';
import { registerPrincipals } from './principals.ts';
import { registerApprovals } from './approvals.ts';
import { registerSecrets } from './secrets.ts';
import { registerAudit, registerReceipt } from './audit.ts';
import { terminalSafe } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

/** Builds the program; exported for tests. */
export function buildProgram(): Command {
  const program = new Command('airlock')
    .description('Run untrusted code in hardened, isolated sandboxes.')
    .option('--config <file>', 'configuration file (JSON)')
    .exitOverride()
    .showHelpAfterError(false);
  registerRun(program);
  registerDoctor(program);
  registerImage(program);
  registerServe(program);
  registerSandbox(program);
  registerPolicy(program);
  registerKeys(program);
  registerPrincipals(program);
  registerApprovals(program);
  registerSecrets(program);
  registerAudit(program);
  registerReceipt(program);
  return program;
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version output are not errors.
      if (err.exitCode === 0) return 0;
      return 2;
    }
    // Why: messages quote server and sandbox text (ids, paths, reasons); none may drive the terminal.
    if (err instanceof UsageError) {
      process.stderr.write(`airlock: ${terminalSafe(err.message, { keepLayout: true })}\n`);
      return 2;
    }
    process.stderr.write(`airlock: ${terminalSafe((err as Error).message, { keepLayout: true })}\n`);
    return 1;
  }
}
