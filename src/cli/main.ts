/**
 * `airlock` command line. One file per command; this file only wires them together.
 * Exit codes: the sandboxed command's own code for `run`; 2 for usage errors; 3 when a request
 * waits for an approver's decision (`airlock sandbox …`, see approval-retry.ts); 1 for other failures.
 */
import { Command, CommanderError } from 'commander';
import { terminalSafe } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

type Register = (program: Command) => void;

/**
 * Every command, in help order, with the module that registers it. A module loads only when its
 * command is the one invoked (or when all are listed: help, an unknown command), so a short
 * `airlock run` never loads the other commands' code.
 */
const COMMANDS: readonly (readonly [name: string, load: () => Promise<Register>])[] = [
  ['run', async () => (await import('./run.ts')).registerRun],
  ['doctor', async () => (await import('./doctor.ts')).registerDoctor],
  ['image', async () => (await import('./image.ts')).registerImage],
  ['serve', async () => (await import('./serve.ts')).registerServe],
  ['sandbox', async () => (await import('./sandbox.ts')).registerSandbox],
  ['policy', async () => (await import('./policy.ts')).registerPolicy],
  ['keys', async () => (await import('./keys.ts')).registerKeys],
  ['principals', async () => (await import('./principals.ts')).registerPrincipals],
  ['approvals', async () => (await import('./approvals.ts')).registerApprovals],
  ['secrets', async () => (await import('./secrets.ts')).registerSecrets],
  ['audit', async () => (await import('./audit.ts')).registerAudit],
  ['receipt', async () => (await import('./audit.ts')).registerReceipt],
  ['forensics', async () => (await import('./forensics.ts')).registerForensics],
  ['revoke', async () => (await import('./revocations.ts')).registerRevoke],
  ['unrevoke', async () => (await import('./revocations.ts')).registerUnrevoke],
  ['revocations', async () => (await import('./revocations.ts')).registerRevocations],
  ['contracts', async () => (await import('./contracts.ts')).registerContracts],
  ['mcp-server', async () => (await import('./mcp-server.ts')).registerMcpServer],
  ['mcp-proxy', async () => (await import('./mcp-proxy.ts')).registerMcpProxy],
  ['mcp', async () => (await import('./mcp.ts')).registerMcp],
];

/** The names of all commands, in help order. */
export const COMMAND_NAMES: readonly string[] = COMMANDS.map(([name]) => name);

/**
 * The command `argv` invokes, when that is plain: the first word after the program's own
 * `--config FILE`. Undefined when anything else comes first (`--help`, an unknown option) or the
 * word is no command (`help`, a typo): then every command is registered, as help and commander's
 * suggestions need.
 */
export function invokedCommand(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--config') i++;
    else if (arg.startsWith('--config=')) continue;
    else return !arg.startsWith('-') && COMMAND_NAMES.includes(arg) ? arg : undefined;
  }
  return undefined;
}

/** Builds the program with `only` registered, or every command; exported for tests. */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('airlock')
    .description('Run untrusted code in hardened, isolated sandboxes.')
    .option('--config <file>', 'configuration file (JSON)')
    .exitOverride()
    .showHelpAfterError(false);
  const wanted = COMMANDS.filter(([name]) => only === undefined || name === only);
  const registers = await Promise.all(wanted.map(([, load]) => load()));
  for (const register of registers) register(program);
  return program;
}

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = await buildProgram(invokedCommand(argv));
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
