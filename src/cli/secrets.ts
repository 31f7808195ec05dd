/**
 * `airlock secrets set|ls|rm`: the controller's encrypted secret store. Writes the store directly
 * (root on the controller host), like `principals`. A value is read from stdin or a file, never
 * from the command line (argv is readable by every local user through /proc), and never printed.
 */
import type { Command } from 'commander';
import { SECRET_NAME_RULE } from '../secrets/names.ts';

/** Registers `secrets` and its subcommands on the program. */
export function registerSecrets(program: Command): void {
  const secrets = program.command('secrets').description('Keep secrets in the controller\'s encrypted store; sandboxes get them as files under /run/secrets.');
  // Why lazily: no other command needs the store's code.
  const actions = () => import('./secrets-actions.ts');
  const configPath = () => program.opts<{ config?: string }>().config;

  secrets
    .command('set')
    .description('store a secret: the value comes from stdin (one trailing newline dropped) or, byte for byte, from --from-file')
    .argument('<name>', SECRET_NAME_RULE)
    .option('--from-file <file>', 'read the value from this file instead of stdin')
    .action(async (name: string, opts: { fromFile?: string }) => (await actions()).setSecret(configPath(), name, opts.fromFile));

  secrets
    .command('ls')
    .description('list secret names and where each comes from (the store or the environment); never values')
    .option('--json', 'print JSON', false)
    .action(async (opts: { json: boolean }) => (await actions()).listSecrets(configPath(), opts.json));

  secrets
    .command('rm')
    .description('remove a secret from the store')
    .argument('<name>', 'the secret')
    .action(async (name: string) => (await actions()).removeSecret(configPath(), name));
}
