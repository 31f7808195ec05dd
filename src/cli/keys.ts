/**
 * `airlock keys gen --out PREFIX`: an Ed25519 identity for signed requests. Writes PREFIX (private,
 * PKCS#8 PEM, mode 0600) and PREFIX.pub (public, SPKI PEM); prints the key id on stdout.
 */
import type { Command } from 'commander';
import { terminalSafe } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';

/** Registers `keys gen` on the program. */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('Create Ed25519 keys that sign requests to the control plane.');

  keys
    .command('gen')
    .description('Generate a key pair: PREFIX (private, 0600) and PREFIX.pub (public); print its key id.')
    .requiredOption('--out <prefix>', 'path prefix of the two files; neither may exist')
    .action(async (opts: { out: string }) => {
      if (opts.out.trim() === '') throw new UsageError('--out needs a path');
      // Loaded only when the command runs (keeps other commands' start-up small).
      const { writeNewKeyPair } = await import('../signing/key-files.ts');
      const written = await writeNewKeyPair(opts.out);
      // Paths are the caller's own text, escaped like everything the CLI prints.
      process.stderr.write(`wrote ${terminalSafe(written.privateKeyPath)} (private, 0600) and ${terminalSafe(written.publicKeyPath)} (public)\n`);
      process.stdout.write(`${written.keyId}\n`);
    });
}
